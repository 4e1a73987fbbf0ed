"""Caption pieces for pages of other apps (the room, the ended Space), so rooms never imports captions."""

from __future__ import annotations

from django import template

from captions import selectors
from captions.forms import CaptionPreferenceForm
from captions.transcripts import clock
from rooms.replays import selectors as replay_selectors

register = template.Library()


@register.inclusion_tag("captions/_room.html", takes_context=True)
def caption_panel(context, space, at: str | None = None) -> dict:
    """Live captions on the room page: the caption log, its controls and the person's settings. With `at`
    ("top" or "bottom"), drawn only there if that is where the person keeps captions: the room asks for it at
    both ends, so the panel is already where captions.js would move it (moved, it shifted the whole page)."""
    request = context["request"]
    if not hasattr(request, "caption_preference"):  # asked for at both ends of the page: read once
        request.caption_preference = selectors.preference_for(user=request.user)
    preference = request.caption_preference
    placed = at is None or preference.position == at
    form = CaptionPreferenceForm(instance=preference) if placed else None
    return {
        "placed": placed,
        "space": space,
        "preference": preference,
        "form": form,
        "form_values": sorted(form.initial.items()) if form else None,  # what the form's fields are drawn from
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("captions/_transcript.html", takes_context=True)
def transcript(context, space) -> dict:
    """An ended Space's transcript with speakers and times, its downloads and (for the host) deletion."""
    user = context["request"].user
    if not replay_selectors.can_replay(space=space, user=user):  # who may hear it again may read it
        return {"visible": False}
    return {
        "visible": True,
        "space": space,
        "segments": list(selectors.transcript_for(space=space)),
        "is_host": space.host_id == user.pk,
        # A line's time seeks the replay's player, which the page has for a ready replay.
        "seekable": replay_selectors.replay_ready(space=space),
    }


@register.filter
def caption_clock(ms: int) -> str:
    """Milliseconds since the Space went live as hh:mm:ss."""
    return clock(ms, vtt=False)


def _said_during(clip):
    return selectors.transcript_for(space=clip.recording.space).filter(
        end_ms__gt=clip.start_ms, start_ms__lt=clip.end_ms
    )


@register.inclusion_tag("captions/_clip_caption_lines.html")
def clip_caption_lines(clip) -> dict:
    """A clip's captions, compact, for the clip's card in a post (the card checked who may see it)."""
    return {"space": clip.recording.space, "segments": list(_said_during(clip))}


@register.inclusion_tag("captions/_clip_captions.html")
def clip_captions(clip) -> dict:
    """The captions said during a clip (the clip page checked who may see it)."""
    return {"space": clip.recording.space, "segments": list(_said_during(clip))}
