"""Clips as posts: a post that links a clip shows the clip's player, captions, speakers and a link into the
replay, to those the Space's rules let hear it (registered with accounts.attachments)."""

from __future__ import annotations

import re
from functools import cache

from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Post, User
from rooms import access

from . import selectors
from .models import Clip, Recording


@cache
def _clip_link() -> re.Pattern[str]:
    # Built from the URL conf, so moving the clip pages moves what a post links.
    return re.compile(re.escape(reverse("rooms:clip", args=[0])).replace("0", r"(\d+)", 1))


def clip_linked_in(body: str) -> int | None:
    """The first clip a post's text links, by id (a cheap look at the text; no query for other posts)."""
    match = _clip_link().search(body or "")
    return int(match.group(1)) if match else None


def render_clip_card(post: Post, viewer: User | None) -> str:
    clip_id = clip_linked_in(post.body)
    if clip_id is None:
        return ""
    clip = Clip.objects.select_related("recording__space__host").filter(pk=clip_id).first()
    context: dict = {"clip": clip, "post": post}
    if clip is None or clip.recording.state == Recording.State.DELETED:
        context["gone"] = True
    else:
        decision = access.can_replay(space=clip.recording.space, user=viewer or AnonymousUser())
        context.update(
            space=clip.recording.space,
            allowed=bool(decision),
            reason=decision.reason,
            speakers=selectors.clip_speakers(clip=clip) if decision else [],
        )
    return render_to_string("rooms/replays/_clip_card.html", context)
