"""Helpers for the Ticketed Spaces tests: a creator's ticketed Space, buying a seat, paying for it at the fake."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from rooms.models import Space
from tests.rooms.factories import SpaceFactory
from tests.ticketing.factories import make_creator
from tests.ticketing.provider import Provider
from tests.ticketing.webhook_events import stripe_event
from ticketing import tickets
from ticketing.models import SeatHold, TicketOffer

URLS = {"success_url": "https://spaces.test/money/tickets/done/", "cancel_url": "https://spaces.test/spaces/1/"}


def scheduled_space(host: User | None = None, *, in_hours: float = 24, **fields) -> Space:
    host = host or make_creator("dana")
    return SpaceFactory(host=host, scheduled_for=timezone.now() + timedelta(hours=in_hours), **fields)


def ticketed_space(*, price_cents: int = 1500, quantity: int = 10, host: User | None = None, **fields) -> TicketOffer:
    """A scheduled Space of an eligible creator with tickets on sale, made through the service."""
    space = scheduled_space(host, **fields)
    return tickets.ticket_offer_create(space=space, by=space.host, price_cents=price_cents, quantity=quantity)


def buy(offer: TicketOffer, buyer: User) -> SeatHold:
    return tickets.ticket_purchase_start(offer=offer, buyer=buyer, **URLS)


def paid_event(fake: Provider, hold: SeatHold, *, event_type: str = "checkout.session.completed", **kw) -> bytes:
    """The buyer pays on Stripe's page: the signed-to-be body Stripe then sends."""
    return stripe_event(event_type, fake.session_complete(hold.stripe_checkout_session_id), **kw)


def expired_event(fake: Provider, hold: SeatHold) -> bytes:
    """The session ran out at the provider: the body of its `checkout.session.expired`."""
    from ticketing.test_provider import engine, store

    with store.atomic():
        session = engine.session_expire(store.get("checkout.session", hold.stripe_checkout_session_id))
    return stripe_event("checkout.session.expired", dict(session.data))


def counts(offer: TicketOffer) -> tuple[int, int]:
    offer.refresh_from_db()
    return offer.held_count, offer.sold_count
