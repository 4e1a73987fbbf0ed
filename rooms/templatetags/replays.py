"""Replay pieces for the room and the ended Space's page: the REC badge, the player and its figures."""

from __future__ import annotations

from django import template

from rooms.replays import consent, curve, selectors
from rooms.replays.models import Recording

register = template.Library()


@register.inclusion_tag("rooms/replays/_rec_badge.html", takes_context=True)
def recording_badge(context, space) -> dict:
    """REC for everyone while the host records; the host's start/stop and clipping buttons."""
    recording = Recording.objects.filter(space=space).exclude(state=Recording.State.DELETED).first()
    user = context["request"].user
    answer, must_opt_in = None, False
    if recording is not None and user.is_authenticated and user.pk != space.host_id:
        answer = consent.answers(space_id=space.pk, user_ids=[user.pk]).get(user.pk)
        must_opt_in = user.pk in consent.opt_in_rules.must_opt_in([user.pk])
    return {
        "space": space,
        "recording": recording,
        "answer": answer,
        "must_opt_in": must_opt_in,
        "recorded": answer if answer is not None else not must_opt_in,
        "active": bool(recording and recording.active and recording.state == Recording.State.RECORDING),
        "is_host": space.host_id == context["request"].user.pk,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("rooms/replays/_player.html", takes_context=True)
def replay_player(context, space) -> dict:
    """An ended Space's replay: the player (for whoever may hear it), its state, and listens for the host."""
    user = context["request"].user
    recording = Recording.objects.filter(space=space).first()
    decision = selectors.can_replay(space=space, user=user)
    is_host = space.host_id == user.pk
    return {
        "space": space,
        "recording": recording,
        "allowed": bool(decision),
        "reason": decision.reason,
        "is_host": is_host,
        "listens": selectors.listens_for(recording=recording) if recording and is_host else None,
        "pins": selectors.pins_at_moments(space=space) if decision else [],
        # A clip starts at least a second before the end: the browser refuses a later start as it is typed.
        "clip_start_max": max(0, recording.duration_ms - 1000) / 1000 if recording else 0,
        "csrf_token": context.get("csrf_token"),
        "page_url": context["request"].get_full_path(),
    }


@register.inclusion_tag("rooms/replays/_person_replays.html", takes_context=True)
def person_replays(context, person) -> dict:
    """A profile's recent replays: only those the reader may play."""
    return {"replays": selectors.recent_replays_of(host=person, viewer=context["request"].user), "person": person}


@register.inclusion_tag("rooms/replays/_listener_curve.html", takes_context=True)
def listener_curve(context, space) -> dict:
    """For the host: the live Space's listeners, joins, leaves and reactions on the replay's time axis."""
    if space.host_id != context["request"].user.pk:
        return {"curve": None}
    pins = [p.at_ms for p in selectors.pins_at_moments(space=space)]
    # Clicking the curve seeks the replay's player, which only a ready recording has.
    playable = selectors.replay_ready(space=space)
    return {"curve": curve.drawing(space=space, pin_ms=pins), "space": space, "playable": playable}
