"""The one place that decides who may host, join and speak in a Space.

Other apps (ticketing, super follows) add admission rules for their audiences with
`register_admission_check` instead of rooms importing them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied

from accounts.models import Block, Follow, User
from accounts.selectors import has_blocked
from spaces_site.close_codes import CloseCode
from spaces_site.decisions import ALLOW as ALLOW
from spaces_site.decisions import Decision as Decision

from .models import SPEAKING_ROLES, Invitation, Participant, Role, Space


class AdmissionRefused(PermissionDenied):
    """Raised by services when `can_join` refuses; carries the decision (and its close code)."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


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


def can_join(
    *, space: Space, user: User, participant: Participant | None | object = LOOK_UP, host_blocks: bool | None = None
) -> Decision:
    """May `user` open this Space's room now? `participant` is their row, or None when the caller looked
    and found none, and `host_blocks` whether the host blocks them, when the caller looked (a join of many
    people at once then costs no look-up per person)."""
    if not user.is_authenticated:
        return Decision(False, "Log in to join Spaces.", CloseCode.UNAUTHENTICATED)
    if space.state in (Space.State.ENDED, Space.State.CANCELLED):
        return Decision(False, f"This Space has {space.state}.", CloseCode.ENDED)
    if space.host_id == user.pk:
        live = space.state == Space.State.LIVE
        return ALLOW if live else Decision(False, "Start the Space first.", CloseCode.NOT_LIVE)
    if space.state != Space.State.LIVE:
        return Decision(False, "This Space hasn't started yet.", CloseCode.NOT_LIVE)
    row = Participant.objects.filter(space=space, user=user).first() if participant is LOOK_UP else participant
    if isinstance(row, Participant) and row.removed:
        return Decision(False, "You were removed from this Space.", CloseCode.FORBIDDEN)
    return _host_and_audience_allow(space, user, "This Space is not open to you.", host_blocks)


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


# Questions from the audience (rooms/questions.py): listeners ask, the hosts and co-hosts manage them.
QUESTION_MANAGING = frozenset({"upvote_question", "pin_question", "unpin_question", "answer_question"})

# What each role may do over the socket; the consumer checks this in memory for every message.
_EVERYONE = frozenset({"raise_hand", "lower_hand", "react", "ping", "media_ack", "listeners", "list_questions"})
# `speak` is no message type: it names the binary audio frames, which the relay takes from these roles only.
_ON_STAGE = _EVERYONE | {"speak", "unmute", "mute_self", "pin", "unpin"}
_MANAGING = frozenset({"approve", "decline", "invite", "mute", "mute_all", "remove", "make_listener"})
ACTIONS_BY_ROLE: dict[str, frozenset[str]] = {
    Role.LISTENER: _EVERYONE | {"accept_invite", "ask"},
    Role.SPEAKER: _ON_STAGE | {"step_down"},
    Role.COHOST: _ON_STAGE | _MANAGING | QUESTION_MANAGING | {"step_down"},
    Role.HOST: _ON_STAGE | _MANAGING | QUESTION_MANAGING | {"add_cohost", "remove_cohost", "end"},
}


def role_allows(role: str, action: str) -> bool:
    return action in ACTIONS_BY_ROLE.get(role, frozenset())


# Actions aimed at one person (`user_id`): whom each role may aim them at, by that person's role. The services
# refuse anything else, and each room socket is sent its own row (`can_target`), so the page offers only these.
_ANYONE = frozenset({Role.HOST, Role.COHOST, Role.SPEAKER, Role.LISTENER})
TARGETS: dict[str, dict[str, frozenset[str]]] = {
    "approve": {Role.HOST: frozenset({Role.LISTENER}), Role.COHOST: frozenset({Role.LISTENER})},
    "decline": {Role.HOST: _ANYONE, Role.COHOST: _ANYONE},  # anyone whose hand is up
    "invite": {Role.HOST: frozenset({Role.LISTENER}), Role.COHOST: frozenset({Role.LISTENER})},
    "mute": {Role.HOST: SPEAKING_ROLES, Role.COHOST: frozenset({Role.COHOST, Role.SPEAKER})},
    "make_listener": {Role.HOST: frozenset({Role.COHOST, Role.SPEAKER}), Role.COHOST: frozenset({Role.SPEAKER})},
    "remove": {Role.HOST: _ANYONE - {Role.HOST}, Role.COHOST: frozenset({Role.SPEAKER, Role.LISTENER})},
    "add_cohost": {Role.HOST: frozenset({Role.SPEAKER, Role.LISTENER})},
    "remove_cohost": {Role.HOST: frozenset({Role.COHOST})},
}


def may_target(*, actor_role: str, action: str, target_role: str) -> bool:
    """May someone holding `actor_role` aim `action` at someone holding `target_role`?"""
    return target_role in TARGETS.get(action, {}).get(actor_role, frozenset())


def permissions_for(role: str) -> dict[str, object]:
    """What a socket holding `role` may send (`can`), and what at whom, by their role (`can_target`): sent in
    `welcome` and in `permissions` when the role changes, so the page never works it out itself."""
    aimed = {
        target: [a for a in sorted(TARGETS) if may_target(actor_role=role, action=a, target_role=target)]
        for target in Role.values
    }
    return {"can": sorted(ACTIONS_BY_ROLE.get(role, frozenset())), "can_target": aimed}


KNOWN_ACTIONS: frozenset[str] = frozenset().union(*ACTIONS_BY_ROLE.values())


def may_set_reminder(*, space: Space, user: User) -> Decision:
    """A reminder is a notification from the host, and none crosses a block either way: it would never come."""
    if has_blocked(blocker=space.host, blocked=user):
        return Decision(False, "The host has blocked you.")
    if has_blocked(blocker=user, blocked=space.host):
        return Decision(False, f"You blocked @{space.host.username}; unblock them to be reminded of their Spaces.")
    return ALLOW


def can_replay(*, space: Space, user: User) -> Decision:
    """May `user` play an ended Space's recording, read its transcript or hear its clips? The Space's own
    rules: its host; anyone else who could have entered it (not removed from it, not blocked by the host,
    and past the audience's admission checks: a ticket, a Super Follow)."""
    if not user.is_authenticated:
        return Decision(False, "Log in to listen to replays.", CloseCode.UNAUTHENTICATED)
    if space.host_id == user.pk:
        return ALLOW
    if Participant.objects.filter(space=space, user=user, removed_at__isnull=False).exists():
        return Decision(False, "You were removed from this Space.", CloseCode.FORBIDDEN)
    return _host_and_audience_allow(space, user, "This replay is not open to you.")


def _host_and_audience_allow(space: Space, user: User, refusal: str, host_blocks: bool | None = None) -> Decision:
    """What joining and replaying share: the host's blocks, then the audience's admission hooks."""
    if host_blocks is None:
        host_blocks = Block.objects.filter(blocker_id=space.host_id, blocked=user).exists()
    if host_blocks:
        return Decision(False, "The host has blocked you.", CloseCode.FORBIDDEN)
    return audience_admits(space=space, user=user, refusal=refusal)


def audience_admits(*, space: Space, user: User, refusal: str = "This Space is not open to you.") -> Decision:
    """The audience's admission hooks alone (a ticket, a Super Follow), for callers that checked blocks and
    removals themselves, e.g. for many Spaces at once."""
    for check in _admission_checks.get(space.audience, []):
        decision = check(space, user)
        if not decision:
            return Decision(False, decision.reason or refusal, CloseCode.FORBIDDEN, decision.url)
    return ALLOW
