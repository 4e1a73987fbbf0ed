"""Pages for Spaces: the list and search, scheduling, the room, the ended page."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import selectors as account_selectors
from accounts.models import User
from spaces_site.http import error_text, login_redirect
from spaces_site.ratelimit import form_status

from . import access, admission, selectors, services, welcome_cache
from .consumers import REACTIONS
from .forms import SpaceEditForm, SpaceForm, SpaceReportForm, UsernameForm
from .models import Participant, Role, Space
from .outcomes import action_outcome
from .replays import selectors as replay_selectors


def _space_or_404(pk: int) -> Space:
    space = selectors.space_by_id(pk=pk)
    if space is None:
        raise Http404("There is no such Space.")
    return space


@login_required
@require_GET
def space_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:100]
    context = {
        "query": query,
        "live": selectors.spaces_live_ranked(user=request.user, query=query)[:50],
        "upcoming": selectors.spaces_upcoming_for(user=request.user, query=query)[:50],
        "topics": selectors.topics_now(),
        "eligibility": access.host_eligibility(user=request.user),
    }
    return render(request, "rooms/list.html", context)


@login_required
def space_new(request: HttpRequest) -> HttpResponse:
    eligibility = access.host_eligibility(user=request.user)
    if not eligibility.eligible:
        return render(request, "rooms/not_eligible.html", {"eligibility": eligibility}, status=403)
    form = SpaceForm(request.POST or None, host=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            space = services.space_create(
                host=request.user,
                title=data["title"],
                topics=data["topics"],
                scheduled_for=data["scheduled_for"] if data["start"] == "later" else None,
                speaking_policy=data["speaking_policy"],
                audience=data["audience"],
                cohosts=data["cohosts"],
                record=data["record"],
            )
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, exc if isinstance(exc, ValidationError) else error_text(exc))
        else:
            messages.success(request, "Your Space is live." if space.is_live else "Your Space is scheduled.")
            return redirect(space)
    # A host who is live already can't start another: the way back to that one, rather than only the refusal.
    live_space = selectors.live_space_of(host=request.user)
    return render(request, "rooms/form.html", {"form": form, "live_space": live_space}, status=form_status(form))


@login_required
def space_edit(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    if space.host_id != request.user.pk:
        raise PermissionDenied("Only the host can edit this Space.")
    if space.state != Space.State.SCHEDULED:
        messages.error(request, "Only a scheduled Space can be edited.")
        return redirect(space)
    initial = {
        "title": space.title,
        "topics": ", ".join(space.topic_list),
        "scheduled_for": space.scheduled_for,
        "speaking_policy": space.speaking_policy,
    }
    form = SpaceEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.space_update(space=space, by=request.user, **form.cleaned_data)
        except (ValidationError, PermissionDenied) as exc:
            form.add_error(None, error_text(exc))
        else:
            messages.success(request, "Saved.")
            return redirect(space)
    return render(request, "rooms/edit.html", {"form": form, "space": space}, status=422 if form.errors else 200)


def _action(request: HttpRequest, pk: int, run, done: str) -> HttpResponse:
    space = _space_or_404(pk)
    try:
        run(space)
    except (ValidationError, PermissionDenied) as exc:
        return action_outcome(request, space, error_text(exc), ok=False)
    return action_outcome(request, space, done, ok=True)


@login_required
@require_POST
def space_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, lambda s: services.space_start(space=s, by=request.user), "You're live.")


@login_required
def space_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks the host to confirm (reminded people will be told); POST cancels."""
    if request.method == "POST":
        return _action(request, pk, lambda s: services.space_cancel(space=s, by=request.user), "Space cancelled.")
    space = _space_or_404(pk)
    if space.host_id != request.user.pk:
        raise PermissionDenied("Only the host can cancel this Space.")
    if space.state != Space.State.SCHEDULED:
        messages.error(request, "Only a scheduled Space can be cancelled.")
        return redirect(space)
    reminded = selectors.reminded_count(space=space)
    return render(request, "rooms/cancel.html", {"space": space, "reminded": reminded})


@login_required
@require_POST
def space_end(request: HttpRequest, pk: int) -> HttpResponse:
    return _action(request, pk, lambda s: services.space_end(space=s, by=request.user), "Space ended.")


@login_required
@require_POST
def reminder_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    if request.POST.get("action") == "remove":
        services.reminder_delete(space=space, user=request.user)
        messages.success(request, "Reminder removed.")
        return redirect(space)
    space = _space_or_404(pk)
    try:
        reminder = services.reminder_set(space=space, user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        lead = f"{settings.SPACES_REMINDER_MINUTES_BEFORE} minutes before"
        messages.success(request, f"We'll remind you {'when it starts' if reminder.at_start else lead}.")
    return redirect(space)


@login_required
def space_report(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    reported = None
    if raw := request.GET.get("user") or request.POST.get("user"):
        reported = User.objects.filter(pk=raw if str(raw).isdecimal() else 0).first()
        if reported is None:
            raise Http404("No such person.")
    form = SpaceReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.space_report_create(
                space=space, reporter=request.user, reported_user=reported, **form.cleaned_data
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            about_the_host = reported is None or reported.pk == space.host_id
            reviewers = "Our moderators" if about_the_host else "The host and our moderators"
            messages.success(request, f"Thanks. {reviewers} will review your report.")
            return redirect(space)
    context = {"space": space, "reported": reported, "form": form}
    return render(request, "rooms/report.html", context, status=form_status(form))


@login_required
@require_POST
def share_to_timeline(request: HttpRequest, pk: int) -> HttpResponse:
    url = request.build_absolute_uri(_space_or_404(pk).get_absolute_url())
    return _action(
        request, pk, lambda s: services.space_share_to_timeline(space=s, user=request.user, url=url), "Shared."
    )


@login_required
@require_POST
def share_by_dm(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    form = UsernameForm(request.POST)
    if not form.is_valid():
        return action_outcome(request, space, form.username_errors, ok=False)
    recipient = form.cleaned_data["username"]
    url = request.build_absolute_uri(space.get_absolute_url())
    return _action(
        request,
        pk,
        lambda s: services.space_share_by_dm(space=s, sender=request.user, recipient=recipient, url=url),
        f"Sent to @{recipient.username}.",
    )


@login_required
@require_POST
def invite(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    form = UsernameForm(request.POST)
    if not form.is_valid():
        return action_outcome(request, space, form.username_errors, ok=False)
    user, by_dm = form.cleaned_data["username"], form.cleaned_data["by_dm"]
    return _action(
        request,
        pk,
        lambda s: services.speaker_invite(space=s, by=request.user, user=user, by_dm=by_dm),
        f"Invited @{user.username} to speak.",
    )


@login_required
@require_GET
def live_bubbles(request: HttpRequest) -> HttpResponse:
    return render(request, "rooms/_live_bubbles.html", {"live_bubbles": selectors.live_bubbles_for(user=request.user)})


def front_door(request: HttpRequest) -> HttpResponse:
    """What Spaces is, for visitors who are not signed in: live and upcoming public Spaces, recent posts."""
    context = {
        "live": selectors.public_spaces_live(),
        "upcoming": selectors.public_spaces_upcoming(),
        "posts": account_selectors.posts_public(),
    }
    return render(request, "rooms/front_door.html", context)


def _preview(request: HttpRequest, space: Space) -> HttpResponse:
    """A shared link opened by someone not signed in: what the Space is, with its share card tags.
    Listening needs an account (see README, "Front door"), so the page offers to sign in and come back."""
    if space.audience != Space.Audience.PUBLIC:
        return login_redirect(request)
    context = {
        "space": space,
        "share_url": request.build_absolute_uri(space.get_absolute_url()),
        "has_replay": space.state == Space.State.ENDED and replay_selectors.replay_ready(space=space),
    }
    return render(request, "rooms/preview.html", context)


def space_detail(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space_or_404(pk)
    if not request.user.is_authenticated:
        return _preview(request, space)
    if space.is_over:
        context = {
            "space": space,
            "speakers": selectors.ever_spoke_in(space=space),
        }
        return render(request, "rooms/ended.html", context)
    me = selectors.participant_of(space=space, user=request.user)
    decision = access.can_join(space=space, user=request.user, participant=me)
    context = {
        "space": space,
        "me": me,
        "is_host": space.host_id == request.user.pk,
        "decision": decision,
        "reminder": selectors.reminder_of(space=space, user=request.user),
        "may_set_reminder": access.may_set_reminder(space=space, user=request.user),
        "share_url": request.build_absolute_uri(space.get_absolute_url()),
        "reactions": REACTIONS,
    }
    if space.state == Space.State.SCHEDULED:
        if context["is_host"]:
            context["reminded"] = selectors.reminded_count(space=space)
        # Across a block there is no reminder, ticket or share to offer (a link to it reached the person anyway).
        context["blocked"] = not context["is_host"] and account_selectors.is_blocked_between(request.user, space.host)
        return render(request, "rooms/scheduled.html", context)
    if not decision:
        return render(request, "rooms/refused.html", context, status=403)
    # The page is drawn as the socket's `welcome` will find it (someone not in yet joins as a listener), so
    # nothing moves when it arrives.
    shared = welcome_cache.for_page(space.pk, space.started_at, lambda: selectors.room_shared_snapshot(space=space))
    # Counted as the welcome will count them, once their socket is in: a listener without one (someone new, or
    # back after theirs closed) is one more.
    arriving = me is None or (me.role == Role.LISTENER and not me.here)
    count = selectors.welcome_listener_count(space=space, shared=shared) + (1 if arriving else 0)
    joining = me or Participant(space=space, user=request.user)
    context["welcome"] = selectors.room_snapshot(space=space, me=joining, shared=shared, listener_count=count)
    # A listener arriving while others wait will wait behind them: drawn in line, not in a room that vanishes
    # when their socket is told its place.
    context["in_line"] = (
        arriving
        and joining.role == Role.LISTENER
        and space.host_id != request.user.pk
        and not context["welcome"]["invited"]
        and admission.waiting_for(space.pk) > 0
    )
    context["report_url"] = reverse("rooms:report", args=[space.pk])
    return render(request, "rooms/room.html", context)
