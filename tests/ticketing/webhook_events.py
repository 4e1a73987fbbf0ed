"""Stripe's webhook events as the money tests post them: the bodies and the endpoint's signing secret."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


def stripe_event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> bytes:
    """A webhook body shaped like Stripe's, for `obj` as `data.object`."""
    return json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex[:16]}",
            "object": "event",
            "type": event_type,
            "created": int(time.time()),
            "livemode": False,
            "data": {"object": obj},
        }
    ).encode()


def tip_checkout_event(
    tip, *, paid: bool = True, event_type: str = "checkout.session.completed", event_id: str | None = None
) -> bytes:
    """Stripe's event for a tip's Checkout Session (paid by default)."""
    return stripe_event(
        event_type,
        {
            "id": tip.stripe_checkout_session_id,
            "object": "checkout.session",
            "mode": "payment",
            "payment_status": "paid" if paid else "unpaid",
            "amount_total": tip.amount_cents,
            "metadata": {"tip": str(tip.reference)},
        },
        event_id=event_id,
    )
