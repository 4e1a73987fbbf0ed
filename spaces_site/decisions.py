"""The one shape of a yes or no with its reason: what every "may this person do that?" check returns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    # The websocket close code that goes with a refusal (spaces_site.close_codes), where a socket is refused.
    code: int = 0
    # Where the person can do something about a refusal (e.g. buy a ticket); shown on the page.
    url: str = ""

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)
