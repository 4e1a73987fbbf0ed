"""Who among a Space's speakers is recorded: their stored answers, and who must accept before being recorded.

Rooms does not know why someone must opt in; other apps say so through `register_opt_in_rule` (captions:
speakers who declined captioning of their voice), as ticketing adds admission rules to rooms.access.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from .models import RecordingConsent

# user ids -> the ones among them who are recorded only after accepting.
OptInRule = Callable[[Collection[int]], set[int]]


class OptInRules:
    """The registered rules; `must_opt_in` asks them all."""

    def __init__(self) -> None:
        self._rules: list[OptInRule] = []

    def register(self, rule: OptInRule) -> None:
        if rule not in self._rules:
            self._rules.append(rule)

    def unregister(self, rule: OptInRule) -> None:
        if rule in self._rules:
            self._rules.remove(rule)

    def must_opt_in(self, user_ids: Collection[int]) -> set[int]:
        found: set[int] = set()
        for rule in self._rules:
            found |= rule(user_ids)
        return found


opt_in_rules = OptInRules()
register_opt_in_rule = opt_in_rules.register


def answers(*, space_id: int, user_ids: Collection[int]) -> dict[int, bool]:
    return dict(
        RecordingConsent.objects.filter(recording_id=space_id, user_id__in=list(user_ids)).values_list(
            "user_id", "accepted"
        )
    )


def recorded_users(*, space_id: int, host_id: int, user_ids: Collection[int]) -> set[int]:
    """The ones among `user_ids` whose voice goes into the Space's replay (the host chose to record)."""
    said = answers(space_id=space_id, user_ids=user_ids)
    opt_in = opt_in_rules.must_opt_in([u for u in user_ids if u not in said and u != host_id])
    return {u for u in user_ids if u == host_id or said.get(u, u not in opt_in)}
