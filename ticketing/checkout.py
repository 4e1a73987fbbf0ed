"""Opening a Stripe Checkout for a pending row: one sequence for tickets, tips and Super Follows.

The pending row is committed before Stripe is called, so whatever Stripe later reports about the
session always finds it; if Stripe refuses, the row is undone and nothing is charged or left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

from django.core.exceptions import ValidationError

from . import stripe_gateway


class PendingCheckout(Protocol):
    stripe_checkout_session_id: str | None

    def save(self, *, update_fields: list[str]) -> None: ...


Pending = TypeVar("Pending", bound=PendingCheckout)


def checkout_open(
    *,
    pending: Pending,
    open_session: Callable[[Pending], stripe_gateway.CheckoutSession],
    undo: Callable[[Pending], object],
    keep_url: bool = False,
) -> stripe_gateway.CheckoutSession:
    """Ask Stripe for a session for `pending` and store its id on the row (and its URL with `keep_url`).

    A refusal from Stripe runs `undo` on the row and becomes a ValidationError with Stripe's reason.
    """
    try:
        session = open_session(pending)
    except stripe_gateway.PaymentProviderError as exc:
        undo(pending)
        raise ValidationError(str(exc)) from exc
    pending.stripe_checkout_session_id = session.id
    fields = ["stripe_checkout_session_id"]
    if keep_url:
        pending.checkout_url = session.url  # type: ignore[attr-defined]
        fields.append("checkout_url")
    pending.save(update_fields=fields)
    return session
