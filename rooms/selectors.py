"""What people read about Spaces: lists, search, a room's state, the live bubbles."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber
from django.urls import Resolver404, resolve

from accounts.models import Block, Follow, User

from . import access, headcount
from .events import PAYLOAD_FIELDS, host_presence_event, participant_payload, participant_payloads, pin_payload
from .leases import live_socket_of
from .models import SPEAKING_ROLES, Participant, PinnedPost, Reminder, Role, Space

log = logging.getLogger(__name__)

LISTENER_SNAPSHOT_LIMIT = 100
BLOCK_LIST_LIMIT = 1000  # of a joiner's own blocks sent in a `welcome`


def spaces_live(*, query: str = "") -> QuerySet[Space]:
    return _search(Space.objects.filter(state=Space.State.LIVE), query).order_by("-started_at")


def spaces_upcoming(*, query: str = "") -> QuerySet[Space]:
    return _search(Space.objects.filter(state=Space.State.SCHEDULED), query).order_by("scheduled_for", "pk")


def spaces_upcoming_for(*, user: User, query: str = "") -> QuerySet[Space]:
    """Upcoming Spaces for the Spaces tab: none whose host blocked `user` (its page only says so)."""
    return spaces_upcoming(query=query).exclude(host__in=Block.objects.filter(blocked=user).values("blocker_id"))


def spaces_live_ranked(*, user: User, query: str = "") -> QuerySet[Space]:
    """Live Spaces for the Spaces tab: those with the most people `user` follows in them (hosting,
    speaking or listening) first, then the most listeners; none whose host blocked `user`."""
    followed = Follow.objects.filter(follower=user).values("followee_id")
    in_space = Participant.objects.filter(space=OuterRef("pk"), removed_at__isnull=True)
    connected = live_socket_of(OuterRef("pk"))
    return (
        spaces_live(query=query)
        .exclude(host__in=Block.objects.filter(blocked=user).values("blocker_id"))
        .annotate(
            followed_here=_count(in_space.filter(user__in=followed).filter(Q(connected) | Q(role__in=SPEAKING_ROLES))),
            listening=_count(in_space.filter(connected)),
        )
        .order_by("-followed_here", "-listening", "-started_at")
    )


def _count(participants: QuerySet[Participant]) -> Coalesce:
    """How many rows `participants` (correlated to the outer Space) has, as one subquery."""
    counted = participants.order_by().values("space").annotate(n=Count("pk")).values("n")[:1]
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def topics_now(*, limit: int = 12) -> list[tuple[str, int]]:
    """The topics of live and upcoming Spaces, most used first, for browsing."""
    counts: dict[str, int] = {}
    rows = Space.objects.filter(state__in=[Space.State.LIVE, Space.State.SCHEDULED]).exclude(topics="")
    for topics in rows.order_by("-pk").values_list("topics", flat=True)[:500]:
        for topic in filter(None, topics.split(",")):
            counts[topic] = counts.get(topic, 0) + 1
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def spaces_of(*, host: User, viewer: User) -> dict[str, list[Space]]:
    """A person's live and upcoming Spaces for their profile (none if they blocked the viewer)."""
    if viewer.is_authenticated and Block.objects.filter(blocker=host, blocked=viewer).exists():
        return {"live": [], "upcoming": []}
    spaces = Space.objects.filter(host=host).select_related("host")
    return {
        "live": list(spaces.filter(state=Space.State.LIVE)),
        "upcoming": list(spaces.filter(state=Space.State.SCHEDULED).order_by("scheduled_for", "pk")[:5]),
    }


def public_spaces_live(*, limit: int = 12) -> list[Space]:
    """Live Spaces anyone may hear about, signed in or not: for the front door."""
    return list(spaces_live().filter(audience=Space.Audience.PUBLIC)[:limit])


def public_spaces_upcoming(*, limit: int = 12) -> list[Space]:
    return list(spaces_upcoming().filter(audience=Space.Audience.PUBLIC)[:limit])


def _search(spaces: QuerySet[Space], query: str) -> QuerySet[Space]:
    spaces = spaces.select_related("host")
    for word in query.split()[:5]:
        word = word.lstrip("#")
        spaces = spaces.filter(Q(title__icontains=word) | Q(topics__icontains=word))
    return spaces


def spaces_hosted_by(*, user: User) -> QuerySet[Space]:
    return Space.objects.filter(host=user).order_by("-created_at")


def live_space_of(*, host: User) -> Space | None:
    """The Space this person hosts live now (there is at most one)."""
    return Space.objects.filter(host=host, state=Space.State.LIVE).first()


def space_by_id(*, pk: int) -> Space | None:
    return Space.objects.select_related("host").filter(pk=pk).first()


def has_reminder(*, space: Space, user: User) -> bool:
    return user.is_authenticated and Reminder.objects.filter(space=space, user=user).exists()


def reminder_of(*, space: Space, user: User) -> Reminder | None:
    return Reminder.objects.filter(space=space, user=user).first() if user.is_authenticated else None


def reminded_count(*, space: Space) -> int:
    """People other than the host who set a reminder (they are told if it is cancelled)."""
    return Reminder.objects.filter(space=space).exclude(user_id=space.host_id).count()


def pins_in(*, space: Space) -> QuerySet[PinnedPost]:
    return PinnedPost.objects.filter(space=space).select_related("post", "post__author").order_by("-created_at")


def speakers_of(*, space: Space) -> QuerySet[Participant]:
    return (
        Participant.objects.filter(space=space, role__in=SPEAKING_ROLES, removed_at__isnull=True)
        .select_related("user")
        .order_by("speaker_index")
    )


def hands_queue(*, space: Space) -> QuerySet[Participant]:
    return (
        Participant.objects.filter(space=space, hand_raised_at__isnull=False, removed_at__isnull=True)
        .select_related("user")
        .order_by("hand_raised_at")
    )


def ever_spoke_in(*, space: Space) -> QuerySet[User]:
    """Speakers shown on an ended Space's page: everyone but the host who was on stage at some time (as a
    speaker or co-host), in the order they first came up, including those who stepped down before the end;
    not someone the host removed from the Space."""
    return (
        User.objects.filter(
            space_participations__space=space,
            space_participations__first_on_stage_at__isnull=False,
            space_participations__removed_at__isnull=True,
        )
        .exclude(pk=space.host_id)
        .order_by("space_participations__first_on_stage_at", "space_participations__pk")
    )


def block_lists(*, user_ids: list[int]) -> dict[int, list[int]]:
    """Whom each of these people blocks, at most BLOCK_LIST_LIMIT + 1 each (one more tells there are more), in
    one query however many people and blocks."""
    lists: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    ranked = (
        Block.objects.filter(blocker_id__in=user_ids)
        .annotate(rank=Window(RowNumber(), partition_by=F("blocker_id"), order_by=F("pk").asc()))
        .filter(rank__lte=BLOCK_LIST_LIMIT + 1)
        .values_list("blocker_id", "blocked_id")
    )
    for blocker_id, blocked_id in ranked:
        lists[blocker_id].append(blocked_id)
    return lists


def room_snapshot(
    *,
    space: Space,
    me: Participant,
    shared: dict | None = None,
    blocked_ids: list[int] | None = None,
    listener_count: int | None = None,
) -> dict:
    """Everything a socket needs on (re)connect, in a handful of queries: `shared` (what `room_shared_snapshot`
    gives every socket of the Space, built now when not given), the `listener_count` (`welcome_listener_count`,
    read now when not given) and what is this person's own (`blocked_ids` as `block_lists` gives them, looked
    up now when not given)."""
    shared = room_shared_snapshot(space=space) if shared is None else shared
    count = welcome_listener_count(space=space, shared=shared) if listener_count is None else listener_count
    if blocked_ids is None:
        blocked_ids = block_lists(user_ids=[me.user_id])[me.user_id]
    speaker_ids = [speaker["user_id"] for speaker in shared["speakers"]]
    if len(blocked_ids) > BLOCK_LIST_LIMIT:  # more than the page is sent: ask about the stage alone
        blocked = list(
            Block.objects.filter(blocker_id=me.user_id, blocked_id__in=speaker_ids).values_list("blocked_id", flat=True)
        )
    else:
        mine = set(blocked_ids)
        blocked = [user_id for user_id in speaker_ids if user_id in mine]
    return {
        "type": "welcome",
        "space": {
            "id": space.pk,
            "title": space.title,
            "state": space.state,
            "host_id": space.host_id,
            "speaking_policy": space.speaking_policy,
        },
        # The host's last socket closed and the grace period runs (a `host_presence` event), or null.
        "host_away": None
        if space.host_left_at is None or me.user_id == space.host_id
        else host_presence_event(space.host_left_at),
        "me": participant_payload(me),
        "speakers": shared["speakers"],
        "listeners": shared["listeners"],
        "listener_count": count,
        "pins": shared["pins"],
        "blocked_speaker_ids": sorted(set(blocked)),
        # The listener's own block list, so a blocked account who becomes a speaker later is flagged too.
        "blocked_ids": blocked_ids[:BLOCK_LIST_LIMIT],
        "invited": _invited(me),
        "may_request": _may_request(space, me),
        **access.permissions_for(me.role),
    }


def participant_of(*, space: Space, user: User) -> Participant | None:
    """The person's row in the Space, if they have been in it, with `here`: whether a socket of theirs is open."""
    return Participant.objects.filter(space=space, user=user).annotate(here=live_socket_of(OuterRef("pk"))).first()


def welcome_listener_count(*, space: Space, shared: dict) -> int:
    """The listeners a welcome built on `shared` counts."""
    if shared["complete"]:  # every listener present is in the list: the list is the count
        return len(shared["listeners"])
    try:
        counted = headcount.of(space.pk)
    except Exception:  # the shared cache is away (Redis restarting): the list is the best count there is
        log.warning("could not read the headcount of Space %d", space.pk, exc_info=True)
        counted = 0
    return max(len(shared["listeners"]), counted - shared["stage_present"])


def room_shared_snapshot(*, space: Space) -> dict:
    """The part of a `welcome` that is the same for every socket of the Space: the stage (and how many of it
    have a socket open), the first listeners (raised hands first; `complete` when that is all of them) and the
    pins; bounded whatever its size."""
    live = Participant.objects.filter(space=space, removed_at__isnull=True)
    stage = list(
        live.filter(role__in=SPEAKING_ROLES)
        .annotate(here=live_socket_of(OuterRef("pk")))
        .order_by("speaker_index")
        .values(*PAYLOAD_FIELDS, "here")
    )
    listening = live.filter(role=Role.LISTENER)
    hands = listening.filter(hand_raised_at__isnull=False).order_by("hand_raised_at")
    quiet = listening.filter(live_socket_of(OuterRef("pk")), hand_raised_at__isnull=True).order_by("pk")
    limit = LISTENER_SNAPSHOT_LIMIT
    hands_rows = list(hands.values(*PAYLOAD_FIELDS)[: limit + 1])
    quiet_rows = list(quiet.values(*PAYLOAD_FIELDS)[: limit + 1])
    return {
        "speakers": participant_payloads(stage),
        "listeners": participant_payloads([*hands_rows[:limit], *quiet_rows[:limit]]),
        "complete": len(hands_rows) <= limit and len(quiet_rows) <= limit,
        "stage_present": sum(row["here"] for row in stage),
        "pins": [pin_payload(pin) for pin in pins_in(space=space)],
    }


def _may_request(space: Space, me: Participant) -> bool:
    """Whether the Space's speaking policy lets this person ask to speak as a listener (also asked of those on
    stage, who may step down)."""
    if space.speaking_policy == Space.SpeakingPolicy.EVERYONE or _invited(me):  # no query for most joins
        return True
    if space.speaking_policy == Space.SpeakingPolicy.INVITED and me.role == Role.LISTENER:
        return False  # `_invited` looked
    return bool(access.may_request_to_speak(space=space, user=me.user))


def _invited(me: Participant) -> bool:
    """Whether a listener holds an invitation to the stage (the join looked it up already when it could)."""
    if me.role != Role.LISTENER:
        return False
    known = getattr(me, "invitation_roles", None)
    if known is not None:
        return bool(known)
    return me.space.invitations.filter(user_id=me.user_id).exists()


def listener_count(*, space: Space, speakers: int) -> int:
    """Listeners in the Space: counted exactly up to the broadcast threshold (a count that stops there, so it
    costs the same in any Space), above it the headcount the joins and the sweep keep (rooms.headcount),
    less the `speakers` present (the headcount counts everyone)."""
    threshold = settings.SPACES_BROADCAST_FROM_LISTENERS
    listening = Participant.objects.filter(space=space, removed_at__isnull=True, role=Role.LISTENER)
    present = listening.filter(Q(live_socket_of(OuterRef("pk"))) | Q(hand_raised_at__isnull=False))
    exact = present.values("pk")[: threshold + 1].count()
    return exact if exact <= threshold else max(exact, headcount.of(space.pk) - speakers)


def stage_present(*, space: Space) -> int:
    """How many of the stage (host, co-hosts, speakers) have a socket open."""
    stage = Participant.objects.filter(space=space, removed_at__isnull=True, role__in=SPEAKING_ROLES)
    return stage.filter(live_socket_of(OuterRef("pk"))).count()


def listeners_page(*, space: Space, after: int = 0) -> dict:
    """Listeners with an open socket, in the order they first came, after the cursor `after` (a `next` of an
    earlier page; 0 for the first): the list of a Space in broadcast mode, asked for a page at a time."""
    limit = LISTENER_SNAPSHOT_LIMIT
    rows = list(
        Participant.objects.filter(space=space, removed_at__isnull=True, role=Role.LISTENER, pk__gt=after)
        .filter(live_socket_of(OuterRef("pk")))
        .order_by("pk")
        .values("pk", *PAYLOAD_FIELDS)[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return {"listeners": participant_payloads(rows), "next": rows[-1]["pk"] if more else None}


@dataclass(frozen=True)
class Bubble:
    url: str
    user_id: int
    initial: str
    name: str
    title: str


def live_bubbles_for(*, user: User) -> list[Bubble]:
    """Followed accounts hosting or speaking in a live Space now: one query, however many."""
    if not user.is_authenticated:
        return []
    followed = Follow.objects.filter(follower=user).values("followee_id")
    blockers = Block.objects.filter(blocked=user).values("blocker_id")
    rows = (
        Participant.objects.filter(
            user__in=followed,
            role__in=SPEAKING_ROLES,
            removed_at__isnull=True,
            space__state=Space.State.LIVE,
        )
        .exclude(space__host__in=blockers)
        .select_related("user", "space")
        .order_by("-space__started_at", "speaker_index")
    )
    bubbles: dict[int, Bubble] = {}
    for participant in rows[:100]:
        if participant.user_id in bubbles:
            continue
        bubbles[participant.user_id] = Bubble(
            url=participant.space.get_absolute_url(),
            user_id=participant.user_id,
            initial=participant.user.initial,
            name=participant.user.name,
            title=participant.space.title,
        )
    return list(bubbles.values())


# --- what the clock and the go-live fan-out act on ---


def reminders_due(*, now: datetime) -> QuerySet[Reminder]:
    """Reminders whose notice is due: ahead ones within the lead time, at-start ones at the start."""
    window = now + timedelta(minutes=settings.SPACES_REMINDER_MINUTES_BEFORE)
    return Reminder.objects.filter(
        Q(at_start=False, space__scheduled_for__lte=window) | Q(at_start=True, space__scheduled_for__lte=now),
        sent_at__isnull=True,
        space__state=Space.State.SCHEDULED,
        space__scheduled_for__gt=now - timedelta(hours=1),
    ).exclude(at_start=True, user=F("space__host"))  # the host gets the "Start now" prompt instead


def spaces_due(*, now: datetime) -> QuerySet[Space]:
    """Scheduled Spaces whose time has come and whose host has not been told yet."""
    return Space.objects.filter(state=Space.State.SCHEDULED, scheduled_for__lte=now, due_notice_at__isnull=True)


def spaces_missed(*, now: datetime) -> QuerySet[Space]:
    """Scheduled Spaces the host did not start within SPACES_MISSED_AFTER_MINUTES of their time."""
    cutoff = now - timedelta(minutes=settings.SPACES_MISSED_AFTER_MINUTES)
    return Space.objects.filter(state=Space.State.SCHEDULED, scheduled_for__lte=cutoff)


def spaces_abandoned(*, now: datetime) -> QuerySet[Space]:
    """Live Spaces whose host left longer than the grace period ago."""
    cutoff = now - timedelta(seconds=settings.SPACES_HOST_GRACE_SECONDS)
    return Space.objects.filter(state=Space.State.LIVE, host_left_at__isnull=False, host_left_at__lte=cutoff)


def live_notice_recipients_page(*, space: Space, after: int, limit: int) -> list[int]:
    """The next `limit` people (by id, above `after`) who hear that `space` is live: the host's followers
    and whoever set a reminder. A page at a time, so no query or task grows with the audience."""
    followers = Follow.objects.filter(followee_id=space.host_id, follower_id__gt=after).order_by("follower_id")
    reminded = Reminder.objects.filter(space=space, user_id__gt=after).order_by("user_id")
    # The first `limit` of the union lie within the first `limit` of each part.
    page = set(followers.values_list("follower_id", flat=True)[:limit])
    page.update(reminded.values_list("user_id", flat=True)[:limit])
    return sorted(page)[:limit]


def space_signing_in_to(next_url: str) -> Space | None:
    """The Space whose page a sign-in leads back to (`?next=/spaces/7/`), so the sign-in page can say so; only a
    Space open to everyone, whose preview a visitor may see (rooms.views._preview): others' titles stay private."""
    try:
        match = resolve(urlsplit(next_url).path)
    except Resolver404:
        return None
    if match.view_name != "rooms:detail":
        return None
    visible = Space.objects.filter(audience=Space.Audience.PUBLIC)
    return visible.select_related("host").filter(pk=match.kwargs["pk"]).first()
