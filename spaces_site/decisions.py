"""The one shape of a yes or no with its reason: what every "may this person do that?" check returns."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    # The websocket close code that goes with a refusal (spaces_site.close_codes), where a socket is refused.
    code: int = 0
    # Where the person can do something about a refusal (e.g. buy a ticket); shown on the page.
    url: str = ""
    # A checklist's refusal: every reason, in the order the person would fix them (`reason` is the first).
    reasons: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed

    @classmethod
    def checklist(cls, reasons: Iterable[str]) -> Decision:
        """Allowed when no reason stands in the way; otherwise refused, listing them all."""
        listed = tuple(reasons)
        return cls(False, listed[0], reasons=listed) if listed else ALLOW


ALLOW = Decision(True)
