"""The one place that decides who may host, join and speak in a Space.

Other apps (ticketing, super follows) add admission rules for their audiences with
`register_admission_check` instead of rooms importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q

from accounts.models import Block, Follow, User

from .models import MANAGER_ROLES, SPEAKING_ROLES, Invitation, Participant, Role, Space


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    # The websocket close code that goes with a refusal (see rooms/PROTOCOL.md).
    code: int = 0
    # Where the person can do something about a refusal (e.g. buy a ticket); shown on the page.
    url: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


class AdmissionRefused(PermissionDenied):
    """Raised by services when `can_join` refuses; carries the decision (and its close code)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_LIVE = 4409
CLOSE_ENDED = 4410

# audience -> checks; each returns a refusing Decision or ALLOW.
AdmissionCheck = Callable[[Space, User], Decision]
_admission_checks: dict[str, list[AdmissionCheck]] = {}


def register_admission_check(audience: str, check: AdmissionCheck) -> None:
    """Add a rule for Spaces of `audience` (e.g. ticketing: "has a ticket")."""
    if check not in _admission_checks.setdefault(audience, []):
        _admission_checks[audience].append(check)


def unregister_admission_check(audience: str, check: AdmissionCheck) -> None:
    if check in _admission_checks.get(audience, []):
        _admission_checks[audience].remove(check)


# audience -> checks on the host; each returns a refusing Decision (with the reason) or ALLOW.
HostCheck = Callable[[User], Decision]
_host_checks: dict[str, list[HostCheck]] = {}


def register_host_check(audience: str, check: HostCheck) -> None:
    """Add a rule on who may schedule or start a Space for `audience` (e.g. "enrolled in Super Follows")."""
    if check not in _host_checks.setdefault(audience, []):
        _host_checks[audience].append(check)


def unregister_host_check(audience: str, check: HostCheck) -> None:
    if check in _host_checks.get(audience, []):
        _host_checks[audience].remove(check)


def may_host_audience(*, user: User, audience: str) -> Decision:
    for check in _host_checks.get(audience, []):
        decision = check(user)
        if not decision:
            return decision
    return ALLOW


def invited_or_speaking(*, space: Space, user: User) -> bool:
    """Named or invited by the hosts, or holding a speaking seat: let in whatever the audience."""
    return (
        Invitation.objects.filter(space=space, user=user).exists()
        or Participant.objects.filter(space=space, user=user, role__in=SPEAKING_ROLES, removed_at__isnull=True).exists()
    )


@dataclass(frozen=True)
class HostEligibility:
    eligible: bool
    followers: int
    required: int

    @property
    def missing(self) -> int:
        return max(self.required - self.followers, 0)


def host_eligibility(*, user: User) -> HostEligibility:
    required = settings.SPACES_MIN_FOLLOWERS_TO_HOST
    return HostEligibility(eligible=user.followers_count >= required, followers=user.followers_count, required=required)


LOOK_UP = object()  # `can_join(participant=...)` default: the caller has not looked the row up


def can_join(*, space: Space, user: User, participant: Participant | None | object = LOOK_UP) -> Decision:
    """May `user` open this Space's room now? `participant` is their row, or None when the caller looked
    and found none (a join of someone new then costs no second look-up)."""
    if not user.is_authenticated:
        return Decision(False, "Log in to join Spaces.", CLOSE_UNAUTHENTICATED)
    if space.state in (Space.State.ENDED, Space.State.CANCELLED):
        return Decision(False, f"This Space has {space.state}.", CLOSE_ENDED)
    if space.host_id == user.pk:
        return ALLOW if space.state == Space.State.LIVE else Decision(False, "Start the Space first.", CLOSE_NOT_LIVE)
    if space.state != Space.State.LIVE:
        return Decision(False, "This Space hasn't started yet.", CLOSE_NOT_LIVE)
    if participant is LOOK_UP:
        participant = Participant.objects.filter(space=space, user=user).first()
    if participant is not None and participant.removed:
        return Decision(False, "You were removed from this Space.", CLOSE_FORBIDDEN)
    return _host_and_audience_allow(space, user, "This Space is not open to you.")


def may_request_to_speak(*, space: Space, user: User) -> Decision:
    policy = space.speaking_policy
    if policy == Space.SpeakingPolicy.EVERYONE:
        return ALLOW
    if Invitation.objects.filter(space=space, user=user).exists():
        return ALLOW
    if (
        policy == Space.SpeakingPolicy.FOLLOWED
        and Follow.objects.filter(follower_id=space.host_id, followee=user).exists()
    ):
        return ALLOW
    if policy == Space.SpeakingPolicy.FOLLOWED:
        return Decision(False, "In this Space only people the host follows can request to speak.")
    return Decision(False, "In this Space only invited people can speak.")


def is_manager(role: str) -> bool:
    return role in MANAGER_ROLES


def is_speaking_role(role: str) -> bool:
    return role in SPEAKING_ROLES


# Questions from the audience (rooms/questions.py): listeners ask, the hosts and co-hosts manage them.
QUESTION_MANAGING = frozenset({"upvote_question", "pin_question", "unpin_question", "answer_question"})

# What each role may do over the socket; the consumer checks this in memory for every message.
_EVERYONE = frozenset({"raise_hand", "lower_hand", "react", "ping", "media_ack", "listeners", "list_questions"})
_ON_STAGE = _EVERYONE | {"unmute", "mute_self", "pin", "unpin"}
_MANAGING = frozenset({"approve", "decline", "invite", "mute", "mute_all", "remove", "make_listener"})
ACTIONS_BY_ROLE: dict[str, frozenset[str]] = {
    Role.LISTENER: _EVERYONE | {"accept_invite", "ask"},
    Role.SPEAKER: _ON_STAGE | {"step_down"},
    Role.COHOST: _ON_STAGE | _MANAGING | QUESTION_MANAGING | {"step_down"},
    Role.HOST: _ON_STAGE | _MANAGING | QUESTION_MANAGING | {"add_cohost", "remove_cohost", "end"},
}


def role_allows(role: str, action: str) -> bool:
    return action in ACTIONS_BY_ROLE.get(role, frozenset())


def blocked_speaker_ids_for(*, user: User, speaker_ids: list[int]) -> set[int]:
    """Which of these speakers the listener has blocked (they are warned, not kept out)."""
    return set(
        Block.objects.filter(Q(blocker=user) & Q(blocked_id__in=speaker_ids)).values_list("blocked_id", flat=True)
    )


KNOWN_ACTIONS: frozenset[str] = frozenset().union(*ACTIONS_BY_ROLE.values())


def can_replay(*, space: Space, user: User) -> Decision:
    """May `user` play an ended Space's recording, read its transcript or hear its clips? The Space's own
    rules: its host; anyone else who could have entered it (not removed from it, not blocked by the host,
    and past the audience's admission checks: a ticket, a Super Follow)."""
    if not user.is_authenticated:
        return Decision(False, "Log in to listen to replays.", CLOSE_UNAUTHENTICATED)
    if space.host_id == user.pk:
        return ALLOW
    if Participant.objects.filter(space=space, user=user, removed_at__isnull=False).exists():
        return Decision(False, "You were removed from this Space.", CLOSE_FORBIDDEN)
    return _host_and_audience_allow(space, user, "This replay is not open to you.")


def _host_and_audience_allow(space: Space, user: User, refusal: str) -> Decision:
    """What joining and replaying share: the host's blocks, then the audience's admission hooks."""
    if Block.objects.filter(blocker_id=space.host_id, blocked=user).exists():
        return Decision(False, "The host has blocked you.", CLOSE_FORBIDDEN)
    return audience_admits(space=space, user=user, refusal=refusal)


def audience_admits(*, space: Space, user: User, refusal: str = "This Space is not open to you.") -> Decision:
    """The audience's admission hooks alone (a ticket, a Super Follow), for callers that checked blocks and
    removals themselves, e.g. for many Spaces at once."""
    for check in _admission_checks.get(space.audience, []):
        decision = check(space, user)
        if not decision:
            return Decision(False, decision.reason or refusal, CLOSE_FORBIDDEN, decision.url)
    return ALLOW
