"""Never oversell: 200 concurrent buyers for 50 tickets over real PostgreSQL and the fake Stripe server."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from accounts.models import User
from tests.accounts.factories import UserFactory
from tests.ticketing.webhook_events import WEBHOOK_SECRET
from ticketing.models import Sale, SeatHold, Ticket
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .tickets_support import buy, counts, paid_event, ticketed_space

BUYERS = 200
TICKETS = 50
# Each worker holds its own database connection; PostgreSQL here allows 100 in all and is shared.
WORKERS = 40


@pytest.mark.django_db(transaction=True)
def test_ticket_sale_never_oversells(provider):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent buyers need PostgreSQL's row locks (run with DATABASE_URL)")
    offer = ticketed_space(price_cents=1000, quantity=TICKETS)
    buyers = list(UserFactory.create_batch(BUYERS))
    start = threading.Barrier(WORKERS)
    started = threading.local()

    def attempt(buyer: User) -> str:
        try:
            if not getattr(started, "done", False):
                started.done = True
                start.wait()  # every worker's first attempt lands together
            return str(buy(offer, buyer).reference)
        except ValidationError as exc:
            return " ".join(exc.messages)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        results = list(pool.map(attempt, buyers))

    refusals = [r for r in results if r == "Sold out."]
    assert len(refusals) == BUYERS - TICKETS
    assert len(set(results) - {"Sold out."}) == TICKETS
    assert counts(offer) == (TICKETS, 0)
    holds = list(SeatHold.objects.filter(offer=offer))
    assert len(holds) == TICKETS and all(h.stripe_checkout_session_id for h in holds)
    created = provider.requests_to("POST", "/v1/checkout/sessions")
    # No double charge: one Checkout Session per hold, each asked for once under its own key.
    assert len(created) == TICKETS
    assert {r.idempotency_key for r in created} == {f"seat-hold-{h.reference}" for h in holds}
    assert len(provider.sessions) == TICKETS

    client = Client()
    for hold in holds:
        body = paid_event(provider, hold)
        response = client.post(
            reverse("ticketing:stripe_webhook"),
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign_webhook(body, WEBHOOK_SECRET),
        )
        assert response.status_code == 200

    assert counts(offer) == (0, TICKETS)
    assert Ticket.objects.filter(offer=offer, status=Ticket.Status.VALID).count() == TICKETS
    assert SeatHold.objects.filter(offer=offer, status=SeatHold.Status.PAID).count() == TICKETS
    assert Sale.objects.filter(space=offer.space, kind=Sale.Kind.TICKET).count() == TICKETS
    assert len({t.payment_intent_id for t in Ticket.objects.filter(offer=offer)}) == TICKETS
