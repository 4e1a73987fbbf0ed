"""Pages for people, the graph, posts, messages and notifications."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from spaces_site.http import error_text, safe_next
from spaces_site.ratelimit import RateLimited, form_status

from . import engagement, selectors, services
from .audience import can_read
from .forms import MessageForm, NewMessageForm, PostForm, ProfileForm, QuoteForm, ReplyForm, ReportForm
from .models import Post, User
from .pagination import BadCursor

PEOPLE_SHOWN = 30  # people search results on one page


def _page_or_first(request: HttpRequest, read, **kwargs):
    """The page `?cursor=` asks for; a stale or mangled link leads to the first page, saying why."""
    try:
        return read(cursor=request.GET.get("cursor") or None, **kwargs), None
    except BadCursor as exc:
        messages.info(request, str(exc))
        # Over htmx ("Show older posts") the whole page is loaded again, not the first one pasted under it.
        return None, HttpResponseClientRedirect(request.path) if request.htmx else redirect(request.path)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    page, error = _page_or_first(request, selectors.timeline_for, user=request.user)
    if error:
        return error
    context = {
        "page": page,
        "form": PostForm(author=request.user),
        "who_to_follow": selectors.who_to_follow(user=request.user),
    }
    if request.htmx and request.GET.get("cursor"):
        return render(request, "accounts/_post_page.html", context)
    return render(request, "accounts/home.html", context)


@login_required
@require_POST
def post_create(request: HttpRequest) -> HttpResponse:
    form = PostForm(request.POST, author=request.user)
    if form.is_valid():
        try:
            post = services.post_create(
                author=request.user, body=form.cleaned_data["body"], audience=form.cleaned_data["audience"]
            )
        except ValidationError as exc:
            form.add_error("body", exc)
        else:
            if request.htmx:
                context = {"post": post, "form": PostForm(author=request.user)}
                return render(request, "accounts/_post_created.html", context)
            messages.success(request, "Posted.")
            return redirect("home")
    if request.htmx:
        return render(request, "accounts/_post_form.html", {"form": form}, status=form_status(form))
    page = selectors.timeline_for(user=request.user)
    return render(request, "accounts/home.html", {"page": page, "form": form}, status=form_status(form))


def post_detail(request: HttpRequest, username: str, pk: int) -> HttpResponse:
    post = selectors.post_for(pk=pk, username=username, viewer=request.user)
    if post is None:
        raise Http404("No such post.")
    if post.is_plain_repost:
        return redirect(post.repost_of)
    relationship = selectors.relationship_between(viewer=request.user, other=post.author)
    if relationship.blocked_by:
        return render(request, "accounts/blocked.html", {"profile": post.author}, status=403)
    if not can_read(post=post, viewer=request.user):
        post.body, post.locked = "", True
        return render(request, "accounts/post_detail.html", {"post": post}, status=403)
    return _post_page(request, post, form=ReplyForm(), blocking=relationship.blocking)


def _post_page(
    request: HttpRequest, post: Post, *, form: ReplyForm, status: int = 200, blocking: bool = False
) -> HttpResponse:
    context = {
        "post": post,
        "above": selectors.thread_above(post=post, viewer=request.user),
        "replies": selectors.replies_to(post=post, viewer=request.user),
        "form": form,
        "blocking": blocking,  # the viewer blocked its author: no reply, like or repost would be taken
    }
    return render(request, "accounts/post_detail.html", context, status=status)


def _post_gone(request: HttpRequest, what: str) -> HttpResponse:
    """The post was deleted while the person wrote to it (its author, in another tab): say so, keep the words."""
    context = {"what": what, "body": request.POST.get("body", "")}
    return render(request, "accounts/post_gone.html", context, status=410)


def _acted_on(pk: int) -> Post | None:
    """The post a like, repost, reply or quote is for; None once deleted (by its author, since the page was drawn)."""
    return Post.objects.select_related("author", "repost_of__author", "reply_to").filter(pk=pk).first()


def _post_actions(request: HttpRequest, pk: int, action, *, done: str) -> HttpResponse:
    """Like, unlike, repost or undo: the action bar again over htmx, else back where the person was."""
    post = _acted_on(pk)
    if post is None and request.htmx:
        # Deleted since the page was drawn: the bar says so (a 404 is not swapped in, so the click did nothing).
        gone = '<div class="post-actions"><span class="error" role="alert">This post was deleted.</span></div>'
        return HttpResponse(gone, status=422)
    if post is None:
        raise Http404("No such post.")
    error = ""
    try:
        shown = action(post)
    except ValidationError as exc:
        error, shown = error_text(exc), post.repost_of if post.is_plain_repost else post
    if request.htmx:
        shown = selectors.post_for(pk=shown.pk, username=shown.author.username, viewer=request.user)
        context = {"post": shown, "action_error": error}
        return render(request, "accounts/_post_actions.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(shown)


@login_required
@require_POST
def post_like(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_actions(request, pk, lambda p: engagement.like_create(user=request.user, post=p), done="Liked.")


@login_required
@require_POST
def post_unlike(request: HttpRequest, pk: int) -> HttpResponse:
    return _post_actions(request, pk, lambda p: engagement.like_delete(user=request.user, post=p), done="Unliked.")


@login_required
@require_POST
def post_repost(request: HttpRequest, pk: int) -> HttpResponse:
    def repost(p: Post) -> Post:
        return engagement.repost_create(author=request.user, post=p).repost_of

    return _post_actions(request, pk, repost, done="Reposted.")


@login_required
@require_POST
def post_unrepost(request: HttpRequest, pk: int) -> HttpResponse:
    def undo(p: Post) -> Post:
        engagement.repost_delete(author=request.user, post=p)
        return p.repost_of if p.is_plain_repost else p

    return _post_actions(request, pk, undo, done="Repost removed.")


@login_required
@require_POST
def post_reply(request: HttpRequest, pk: int) -> HttpResponse:
    parent = _acted_on(pk)
    if parent is None:
        return _post_gone(request, "reply")
    form = ReplyForm(request.POST)
    if form.is_valid():
        try:
            engagement.reply_create(author=request.user, to=parent, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error("body", exc)
        else:
            messages.success(request, "Reply posted.")
            return redirect(parent.repost_of if parent.is_plain_repost else parent)
    shown = selectors.post_for(pk=parent.pk, username=parent.author.username, viewer=request.user)
    if not can_read(post=shown, viewer=request.user):
        raise Http404("No such post.")
    return _post_page(request, shown, form=form, status=422)


@login_required
def post_quote(request: HttpRequest, pk: int) -> HttpResponse:
    original = _acted_on(pk)
    if original is None and request.method == "POST":
        return _post_gone(request, "quote")
    if original is None:
        raise Http404("No such post.")
    if original.is_plain_repost:
        original = original.repost_of
    if not can_read(post=original, viewer=request.user):
        raise Http404("No such post.")
    form = QuoteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            quote = engagement.quote_create(author=request.user, post=original, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error("body", exc)
        else:
            messages.success(request, "Quote posted.")
            return redirect(quote)
    status = 422 if form.errors else 200
    return render(request, "accounts/post_quote.html", {"original": original, "form": form}, status=status)


def hashtag(request: HttpRequest, name: str) -> HttpResponse:
    page, error = _page_or_first(request, selectors.posts_tagged, name=name, viewer=request.user)
    if error:
        return error
    context = {"name": name.lower(), "page": page}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "accounts/_post_page.html", context)
    return render(request, "accounts/hashtag.html", context)


@login_required
@require_POST
def post_delete(request: HttpRequest, pk: int) -> HttpResponse:
    post = get_object_or_404(Post.objects.select_related("author", "reply_to__author"), pk=pk, author=request.user)
    on_its_page = urlsplit(request.htmx.current_url or "").path == post.get_absolute_url()
    services.post_delete(post=post, by=request.user)
    if request.htmx and not on_its_page:
        return HttpResponse("")
    messages.success(request, "Post deleted.")
    if on_its_page:
        # The page was the post's own: it (and its reply box) would stay on screen, gone from the server.
        return HttpResponseClientRedirect(post.reply_to.get_absolute_url() if post.reply_to else reverse("home"))
    return redirect(safe_next(request, "home"))


def profile(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    relationship = selectors.relationship_between(viewer=request.user, other=person)
    if relationship.blocked_by:
        return render(request, "accounts/blocked.html", {"profile": person}, status=403)
    page, error = _page_or_first(request, selectors.posts_by, author=person, viewer=request.user)
    if error:
        return error
    context = {"profile": person, "relationship": relationship, "page": page}
    if request.htmx and request.GET.get("cursor"):
        return render(request, "accounts/_post_page.html", context)
    if request.user.is_authenticated and request.user != person:
        try:
            services.message_check(sender=request.user, recipient=person)
        except ValidationError as exc:
            context["message_refusal"] = error_text(exc)
    return render(request, "accounts/profile.html", context)


def people_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:50]
    # One more than is shown tells whether the list is all who match.
    people = selectors.people_search(query=query, viewer=request.user, limit=PEOPLE_SHOWN + 1)
    more, people = len(people) > PEOPLE_SHOWN, people[:PEOPLE_SHOWN]
    followed = selectors.followed_ids_among(viewer=request.user, users=people)
    context = {"query": query, "people": people, "more": more, "followed": followed}
    return render(request, "accounts/people_search.html", context)


def _people_list(request: HttpRequest, username: str, which: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    if selectors.relationship_between(viewer=request.user, other=person).blocked_by:
        return render(request, "accounts/blocked.html", {"profile": person}, status=403)
    people = selectors.followers_of(user=person) if which == "followers" else selectors.following_of(user=person)
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    followed = selectors.followed_ids_among(viewer=request.user, users=list(page.object_list))
    return render(
        request, "accounts/people.html", {"profile": person, "which": which, "page": page, "followed": followed}
    )


def followers(request: HttpRequest, username: str) -> HttpResponse:
    return _people_list(request, username, "followers")


def following(request: HttpRequest, username: str) -> HttpResponse:
    return _people_list(request, username, "following")


def _follow_button(request: HttpRequest, person: User, *, error: str = "", status: int = 200) -> HttpResponse:
    relationship = selectors.relationship_between(viewer=request.user, other=person)
    person.refresh_from_db(fields=["followers_count"])
    # On the profile, the followers count beside the button changes with it (swapped out of band).
    count_shown = request.POST.get("count_shown") == "1"
    context = {"person": person, "following": relationship.following, "error": error, "count_shown": count_shown}
    return render(request, "accounts/_follow_button.html", context, status=status)


@login_required
@require_POST
def follow(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    try:
        services.follow_create(follower=request.user, followee=person)
    except ValidationError as exc:
        if request.htmx:
            status = 429 if isinstance(exc, RateLimited) else 422
            return _follow_button(request, person, error=error_text(exc), status=status)
        messages.error(request, error_text(exc))
        return redirect(person)
    if request.htmx:
        return _follow_button(request, person)
    messages.success(request, f"You follow @{person.username} now.")
    return redirect(safe_next(request, person.get_absolute_url()))


@login_required
@require_POST
def unfollow(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    services.follow_delete(follower=request.user, followee=person)
    if request.htmx:
        return _follow_button(request, person)
    messages.success(request, f"You unfollowed @{person.username}.")
    return redirect(safe_next(request, person.get_absolute_url()))


@login_required
@require_POST
def block(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    try:
        services.block_create(blocker=request.user, blocked=person)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(
            request, f"You blocked @{person.username}. They can't follow you, message you or see your posts."
        )
    return redirect(person)


@login_required
@require_POST
def unblock(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    services.block_delete(blocker=request.user, blocked=person)
    messages.success(request, f"You unblocked @{person.username}.")
    return redirect(person)


@login_required
def report(request: HttpRequest, username: str) -> HttpResponse:
    person = get_object_or_404(User, username=username, is_active=True)
    post = None
    if post_id := request.GET.get("post") or request.POST.get("post"):
        post = get_object_or_404(Post, pk=post_id if str(post_id).isdecimal() else 0, author=person)
        if not can_read(post=post, viewer=request.user):
            raise Http404("No such post.")
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.report_create(reporter=request.user, reported_user=person, post=post, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Thanks. Our moderators will review your report.")
            return redirect(person)
    context = {"profile": person, "post": post, "form": form}
    return render(request, "accounts/report.html", context, status=form_status(form, invalid=200))


@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    # The form checks the person's row read afresh, so the service compares against what is stored and saves
    # only what changed.
    form = ProfileForm(request.POST or None, request.FILES or None, instance=User.objects.get(pk=request.user.pk))
    if request.method == "POST" and form.is_valid():
        services.user_update_profile(user=request.user, data=form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect(request.user)
    return render(request, "accounts/profile_edit.html", {"form": form})


@login_required
@require_POST
def time_zone(request: HttpRequest) -> HttpResponse:
    """The browser reports its zone once the account has none (static/js/time-zone.js)."""
    try:
        services.user_set_time_zone(user=request.user, name=request.POST.get("time_zone", ""))
    except ValidationError as exc:
        return HttpResponseBadRequest(error_text(exc))
    return HttpResponse(status=204)


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/inbox.html", {"conversations": selectors.inbox_for(user=request.user)})


@login_required
def message_new(request: HttpRequest) -> HttpResponse:
    form = NewMessageForm(request.POST or None, initial={"to": request.GET.get("to", "")})
    if request.method == "POST" and form.is_valid():
        try:
            message = services.message_send(
                sender=request.user, recipient=form.cleaned_data["to"], body=form.cleaned_data["body"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect(message.conversation)
    return render(request, "accounts/message_new.html", {"form": form}, status=form_status(form, invalid=200))


@login_required
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    thread = selectors.conversation_for(user=request.user, pk=pk)
    if thread is None:
        return render(request, "404.html", status=404)
    other = thread.other(request.user)
    form = MessageForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.message_send(sender=request.user, recipient=other, body=form.cleaned_data["body"])
        except ValidationError as exc:
            form.add_error("body", exc)
        else:
            return redirect(thread)
    if request.method == "GET":
        services.conversation_mark_read(conversation=thread, user=request.user)
    # A box that every message is refused from is not offered: the reason is said in its place.
    refused = ""
    if not form.is_bound:
        try:
            services.message_check(sender=request.user, recipient=other)
        except ValidationError as exc:
            refused = error_text(exc)
    context = {
        "conversation": thread,
        "other": other,
        "messages_list": selectors.messages_in(conversation=thread),
        "form": form,
        "refused": refused,
    }
    return render(request, "accounts/conversation.html", context, status=form_status(form))


@login_required
@require_GET
def conversation_new_messages(request: HttpRequest, pk: int) -> HttpResponse:
    """The messages after `?after=<id>`, for an open conversation told of a new one over /ws/me/."""
    thread = selectors.conversation_for(user=request.user, pk=pk)
    if thread is None:
        return HttpResponse("No such conversation.", status=404)
    after = request.GET.get("after", "")
    if not after.isdecimal():
        return HttpResponseBadRequest("`after` must be a message id.")
    services.conversation_mark_read(conversation=thread, user=request.user)
    context = {
        "other": thread.other(request.user),
        "messages_list": selectors.messages_in(conversation=thread, after=int(after)),
    }
    return render(request, "accounts/_messages.html", context)


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for(user=request.user), 30).get_page(request.GET.get("page"))
    # Seen now: those shown are read (the bell drawn with this page counts the rest), and drawn as new this once.
    page.object_list = list(page.object_list)
    services.notifications_mark_read(user=request.user, ids=[n.pk for n in page.object_list if n.read_at is None])
    return render(request, "accounts/notifications.html", {"page": page})


@login_required
@require_POST
def notifications_read(request: HttpRequest) -> HttpResponse:
    ids = request.POST.getlist("id")
    if any(not value.isdecimal() for value in ids):
        return HttpResponseBadRequest("Notification ids must be numbers.")
    services.notifications_mark_read(user=request.user, ids=[int(v) for v in ids] if ids else None)
    if request.htmx:
        return render(request, "accounts/_bell.html")
    return redirect("accounts:notifications")


@login_required
@require_GET
def bell(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/_bell.html")
