"""Caption pages: a listener's caption settings, an ended Space's transcript (downloads, deletion), and
searching replays by the words spoken in them."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET

from rooms import access
from rooms.models import Space
from rooms.selectors import space_by_id
from spaces_site.http import safe_next

from . import search, selectors, services
from .forms import CaptionPreferenceForm
from .transcripts import Line, to_text, to_webvtt


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def preference_payload(preference) -> dict:
    return {name: getattr(preference, name) for name in CaptionPreferenceForm.Meta.fields}


@login_required
def preferences(request: HttpRequest) -> HttpResponse:
    """GET: the settings form; POST: save it (JSON in and out for the room page's fetch, HTML otherwise)."""
    preference = selectors.preference_for(user=request.user)
    form = CaptionPreferenceForm(request.POST or None, instance=preference)
    if request.method == "POST":
        if form.is_valid():
            saved = services.caption_preference_update(user=request.user, **form.cleaned_data)
            if _wants_json(request):
                return JsonResponse({"ok": True, "preference": preference_payload(saved)})
            messages.success(request, "Caption settings saved.")
            return redirect(safe_next(request, "captions:preferences"))
        if _wants_json(request):
            errors = {field: [str(e) for e in errs] for field, errs in form.errors.items()}
            return JsonResponse({"ok": False, "errors": errors}, status=422)
    return render(request, "captions/preferences.html", {"form": form}, status=422 if form.errors else 200)


def _ended_space(request: HttpRequest, pk: int) -> Space:
    space = space_by_id(pk=pk)
    if space is None or not space.is_over:
        raise Http404("A transcript is kept once the Space has ended.")
    decision = access.can_replay(space=space, user=request.user)  # who may hear it again may read it
    if not decision:
        raise PermissionDenied(decision.reason)
    return space


def _download(space: Space, body: str, extension: str, content_type: str) -> HttpResponse:
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    name = slugify(space.title) or "space"
    response["Content-Disposition"] = f'attachment; filename="{name}-{space.pk}-transcript.{extension}"'
    return response


@login_required
@require_GET
def transcript_vtt(request: HttpRequest, pk: int) -> HttpResponse:
    space = _ended_space(request, pk)
    lines = [Line.from_segment(s) for s in selectors.transcript_for(space=space)]
    return _download(space, to_webvtt(lines, title=space.title), "vtt", "text/vtt")


@login_required
@require_GET
def transcript_txt(request: HttpRequest, pk: int) -> HttpResponse:
    space = _ended_space(request, pk)
    lines = [Line.from_segment(s) for s in selectors.transcript_for(space=space)]
    return _download(space, to_text(lines, title=space.title), "txt", "text/plain")


@login_required
def transcript_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: ask the host to confirm; POST: delete. Anyone but the host gets 403."""
    space = _ended_space(request, pk)
    if space.host_id != request.user.pk:
        raise PermissionDenied("Only the host can delete this transcript.")
    if request.method == "POST":
        deleted = services.transcript_delete(space=space, by=request.user)
        messages.success(request, f"Transcript deleted ({deleted} caption{'s' if deleted != 1 else ''}).")
        return redirect(space)
    count = selectors.transcript_for(space=space).count()
    return render(request, "captions/transcript_delete.html", {"space": space, "count": count})


@login_required
@require_GET
def replay_search(request: HttpRequest) -> HttpResponse:
    """Replays found by words spoken; each result jumps into the replay at that moment (`#t=`)."""
    query = request.GET.get("q", "").strip()[:200]
    hits = search.replay_search(query=query, user=request.user) if query else []
    return render(request, "captions/search.html", {"query": query, "hits": hits})
