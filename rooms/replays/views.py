"""Replay pages and endpoints: the host's recording controls, the audio with HTTP range requests, listens."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import AccountForm
from rooms.models import Space
from rooms.outcomes import action_outcome
from rooms.selectors import space_by_id
from spaces_site.http import error_text, login_redirect

from . import selectors, services
from .models import Clip, Recording
from .storage import replay_storage

RANGE = re.compile(r"bytes=(\d*)-(\d*)")
BLOCK = 64 * 1024


def _space(pk: int) -> Space:
    space = space_by_id(pk=pk)
    if space is None:
        raise Http404("There is no such Space.")
    return space


@login_required
@require_POST
def recording_control(request: HttpRequest, pk: int) -> HttpResponse:
    """The host's recording buttons: start, stop, clipping on or off, delete."""
    space = _space(pk)
    action = request.POST.get("action", "")
    actions = {
        "start": (
            lambda: services.recording_start(space=space, by=request.user),
            "Recording. Everyone in the Space sees REC.",
        ),
        "stop": (lambda: services.recording_stop(space=space, by=request.user), "Recording stopped."),
        "clipping_on": (
            lambda: services.recording_clipping_set(space=space, by=request.user, clipping=True),
            "Clipping is on.",
        ),
        "clipping_off": (
            lambda: services.recording_clipping_set(space=space, by=request.user, clipping=False),
            "Clipping is off.",
        ),
        "delete": (lambda: services.recording_delete(space=space, by=request.user), "Recording and clips deleted."),
    }
    if action not in actions:
        messages.error(request, "Choose start, stop, clipping on or off, or delete.")
        return redirect(space)
    run, done = actions[action]
    try:
        run()
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, done)
    return redirect(space)


@login_required
@require_POST
def recording_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """A speaker's answer to "may your voice be in the replay?" (JSON for the room's script, else a redirect)."""
    space = _space(pk)
    choice = request.POST.get("choice", "")
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    error = "" if choice in ("accept", "decline") else "Choose to accept or decline recording."
    if not error:
        try:
            services.recording_consent_set(space=space, by=request.user, accepted=choice == "accept")
        except (ValidationError, PermissionDenied) as exc:
            error = error_text(exc)
    done = CONSENT_DONE.get(choice, "")
    if wants_json:
        return JsonResponse({"ok": not error, "error": error, "message": done}, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(space)


CONSENT_DONE = {
    "accept": "Your voice is recorded while you speak.",
    "decline": "Your voice is not recorded: the replay is silent while you speak.",
}


def _refuse(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


@login_required
@require_GET
def replay_audio(request: HttpRequest, pk: int) -> HttpResponse:
    """The mixed recording, seekable: honours a single `Range: bytes=` request with 206 (416 past the end)."""
    space = _space(pk)
    decision = selectors.can_replay(space=space, user=request.user)
    if not decision:
        return _refuse(403, decision.reason)
    recording = Recording.objects.filter(space=space).first()
    if recording is None or recording.state == Recording.State.DELETED:
        return _refuse(410, "This recording was deleted.")
    if not recording.is_ready:
        return _refuse(404, "This recording is not ready yet.")
    return _ranged(request, recording.audio, recording.size_bytes, recording.content_type)


def _ranged(request: HttpRequest, name: str, size: int, content_type: str) -> HttpResponse:
    """`name` from the replays storage, honouring a single `Range: bytes=` request (206; 416 past the end)."""
    try:
        handle = replay_storage().open(name, "rb")
    except FileNotFoundError:
        return _refuse(410, "This recording was deleted.")
    start, end, status = 0, size - 1, 200
    header = request.headers.get("Range", "").strip()
    if header and "," not in header:  # several ranges at once: answer with the whole file, as RFC 9110 allows
        match = RANGE.fullmatch(header)
        if match is None or match.groups() == ("", ""):
            handle.close()
            return _refuse(400, "Range must look like bytes=START-END.")
        first, last = match.groups()
        if first:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        else:
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            handle.close()
            response = _refuse(416, f"That is past the end of the recording ({size} bytes).")
            response["Content-Range"] = f"bytes */{size}"
            return response
        status = 206
    handle.seek(start)
    response = StreamingHttpResponse(_read(handle, end - start + 1), status=status, content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = "private, max-age=3600"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _read(handle, length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            block = handle.read(min(BLOCK, length))
            if not block:
                return
            length -= len(block)
            yield block
    finally:
        handle.close()


@login_required
@require_POST
def replay_listen(request: HttpRequest, pk: int) -> JsonResponse:
    """The player's first play of the day: counted once per person per day, shown to the host."""
    space = _space(pk)
    decision = selectors.can_replay(space=space, user=request.user)
    if not decision:
        return JsonResponse({"ok": False, "error": decision.reason}, status=403)
    recording = selectors.recording_of(space=space)
    if recording is None or not recording.is_ready:
        return JsonResponse({"ok": False, "error": "This recording is no longer available."}, status=410)
    counted = services.replay_listen_record(recording=recording, user=request.user)
    return JsonResponse({"ok": True, "counted": counted})


@login_required
def recording_delete_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    space = _space(pk)
    if space.host_id != request.user.pk:
        raise PermissionDenied("Only the host can delete this recording.")
    recording = selectors.recording_of(space=space)
    if recording is None:
        raise Http404("There is no recording to delete.")
    return render(request, "rooms/replays/delete.html", {"space": space, "recording": recording})


class ClipForm(forms.Form):
    start_s = forms.FloatField(min_value=0, label="From (seconds into the replay)")
    length_s = forms.FloatField(
        min_value=1, max_value=services.MAX_CLIP_MS / 1000, initial=30, label="Length (seconds, up to 60)"
    )


@login_required
@require_POST
def clip_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Clip the last 30 s of a live Space (`live`), or a range of up to 60 s of its replay."""
    space = _space(pk)
    try:
        if space.is_live:
            clip = services.clip_create_live(space=space, by=request.user)
        else:
            form = ClipForm(request.POST)
            if not form.is_valid():
                messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
                return redirect(space)
            start_ms = int(form.cleaned_data["start_s"] * 1000)
            clip = services.clip_create(
                space=space,
                by=request.user,
                start_ms=start_ms,
                end_ms=start_ms + int(form.cleaned_data["length_s"] * 1000),
            )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect(space)
    return redirect(clip)


def _clip(request: HttpRequest, pk: int) -> Clip:
    clip = Clip.objects.select_related("recording__space__host", "made_by").filter(pk=pk).first()
    if clip is None or clip.recording.state == Recording.State.DELETED:
        raise Http404("This clip was deleted.")
    decision = selectors.can_replay(space=clip.recording.space, user=request.user)
    if not decision:
        raise PermissionDenied(decision.reason)
    return clip


@require_GET
def clip_detail(request: HttpRequest, pk: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return _clip_preview(request, pk)
    clip = _clip(request, pk)
    context = {
        "clip": clip,
        "space": clip.recording.space,
        "speakers": selectors.clip_speakers(clip=clip),
        "post_form": ClipPostForm(),
        "share_url": request.build_absolute_uri(clip.get_absolute_url()),
    }
    return render(request, "rooms/replays/clip.html", context)


def _clip_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """A shared clip of a public Space opened by someone not signed in: what it is, with its share card tags;
    listening needs an account (README, "Front door"), so it offers to sign in and come back."""
    clip = Clip.objects.select_related("recording__space__host", "made_by").filter(pk=pk).first()
    if clip is None or clip.recording.state == Recording.State.DELETED:
        raise Http404("This clip was deleted.")
    if clip.recording.space.audience != Space.Audience.PUBLIC:
        return login_redirect(request)
    context = {
        "clip": clip,
        "space": clip.recording.space,
        "share_url": request.build_absolute_uri(clip.get_absolute_url()),
    }
    return render(request, "rooms/replays/clip_preview.html", context)


class ClipPostForm(forms.Form):
    text = forms.CharField(max_length=200, required=False, label="Say something about it (optional)")


@login_required
@require_POST
def clip_post(request: HttpRequest, pk: int) -> HttpResponse:
    """Share a clip as a post on the person's timeline."""
    clip = _clip(request, pk)
    form = ClipPostForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect(clip)
    try:
        post = services.clip_post_create(
            clip=clip,
            by=request.user,
            url=request.build_absolute_uri(clip.get_absolute_url()),
            text=form.cleaned_data["text"],
        )
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, error_text(exc))
        return redirect(clip)
    messages.success(request, "Posted. Your followers can play the clip from their timeline.")
    return redirect(post)


@login_required
@require_POST
def clip_share_dm(request: HttpRequest, pk: int) -> HttpResponse:
    """Send a clip's link by direct message, from the share box its page has as a Space's page does."""
    clip = _clip(request, pk)
    form = AccountForm(request.POST)
    if not form.is_valid():
        return action_outcome(request, clip, form.username_errors, ok=False)
    recipient = form.cleaned_data["username"]
    url = request.build_absolute_uri(clip.get_absolute_url())
    try:
        services.clip_share_by_dm(clip=clip, sender=request.user, recipient=recipient, url=url)
    except (ValidationError, PermissionDenied) as exc:
        return action_outcome(request, clip, error_text(exc), ok=False)
    return action_outcome(request, clip, f"Sent to @{recipient.username}.", ok=True)


@login_required
@require_GET
def clip_audio(request: HttpRequest, pk: int) -> HttpResponse:
    clip = Clip.objects.select_related("recording__space").filter(pk=pk).first()
    if clip is None or clip.recording.state == Recording.State.DELETED:
        return _refuse(410, "This clip was deleted.")
    decision = selectors.can_replay(space=clip.recording.space, user=request.user)
    if not decision:
        return _refuse(403, decision.reason)
    if not clip.audio:
        return _refuse(404, "This clip is being cut; it is ready in a few seconds.")
    try:
        size = replay_storage().size(clip.audio)
    except FileNotFoundError:
        return _refuse(410, "This clip was deleted.")
    return _ranged(request, clip.audio, size, 'audio/mp4; codecs="opus"')
