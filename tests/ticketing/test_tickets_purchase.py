"""Buying a ticket: a seat held during Checkout, a ticket only from Stripe's verified webhook, seats released."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Block, Notification
from rooms import services as room_services
from rooms.models import Reminder, Space
from tests.ticketing.factories import make_creator
from tests.ticketing.webhook_events import WEBHOOK_SECRET, stripe_event
from ticketing import tickets
from ticketing.models import ProcessedStripeEvent, Sale, SeatHold, Ticket
from ticketing.tasks import release_expired_seat_holds
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .tickets_support import buy, counts, expired_event, paid_event, ticketed_space

pytestmark = pytest.mark.django_db


def test_starting_a_purchase_holds_a_seat_and_opens_a_destination_checkout(provider, alice):
    offer = ticketed_space(price_cents=2000, quantity=5)

    hold = buy(offer, alice)

    assert counts(offer) == (1, 0)
    assert hold.status == SeatHold.Status.HELD
    assert hold.application_fee_cents == 60  # 3% below the $50,000 threshold
    (request,) = provider.requests_to("POST", "/v1/checkout/sessions")
    assert request.idempotency_key == f"seat-hold-{hold.reference}"
    assert request.params["mode"] == "payment"
    assert request.params["line_items"][0]["price_data"]["unit_amount"] == "2000"
    intent = request.params["payment_intent_data"]
    assert intent["application_fee_amount"] == "60"
    assert intent["transfer_data"]["destination"] == offer.space.host.creator_profile.stripe_account_id
    assert request.params["metadata"] == {"seat_hold": str(hold.reference)}
    assert int(request.params["expires_at"]) == int(hold.expires_at.timestamp())
    stored = SeatHold.objects.get(pk=hold.pk)
    assert stored.stripe_checkout_session_id == hold.stripe_checkout_session_id
    assert stored.checkout_url == f"https://spaces.test/money/test-provider/checkout/{hold.stripe_checkout_session_id}/"


def test_the_buy_button_sends_the_buyer_to_stripe_and_the_success_page_only_shows_status(
    provider, client, alice, post_event
):
    offer = ticketed_space()
    client.force_login(alice)
    response = client.post(reverse("ticketing:ticket_buy", kwargs={"space_id": offer.space_id}))
    hold = SeatHold.objects.get(buyer=alice)
    assert response.status_code == 303
    assert response.url == hold.checkout_url
    success = provider.requests_to("POST", "/v1/checkout/sessions")[0].params["success_url"]
    assert success.endswith("/money/tickets/done/?session_id={CHECKOUT_SESSION_ID}")
    done = reverse("ticketing:ticket_done") + f"?session_id={hold.stripe_checkout_session_id}"

    # Coming back from Stripe before the webhook: pending, and still no ticket.
    assert "Waiting for payment" in client.get(done).content.decode()
    assert not Ticket.objects.exists()

    post_event(paid_event(provider, hold))
    assert ">Valid<" in client.get(done).content.decode()


def test_the_paid_webhook_issues_the_ticket_records_the_sale_and_reminds_the_buyer(provider, alice, post_event):
    offer = ticketed_space(price_cents=2000, quantity=5)
    hold = buy(offer, alice)

    response = post_event(paid_event(provider, hold))

    assert response.status_code == 200
    assert counts(offer) == (0, 1)
    ticket = Ticket.objects.get()
    assert (ticket.buyer, ticket.status, ticket.hold) == (alice, Ticket.Status.VALID, hold)
    assert ticket.payment_intent_id.startswith("pi_")
    sale = Sale.objects.get()
    assert (sale.kind, sale.space, sale.buyer, sale.creator) == (Sale.Kind.TICKET, offer.space, alice, offer.space.host)
    assert (sale.gross_cents, sale.platform_fee_cents, sale.creator_net_cents) == (2000, 60, 1940)
    assert sale.stripe_reference == hold.stripe_checkout_session_id
    assert Reminder.objects.filter(space=offer.space, user=alice).exists()
    assert Notification.objects.filter(recipient=alice, kind=Notification.Kind.TICKET, text__contains="confirmed")


def test_a_replayed_or_repeated_payment_event_is_applied_once(provider, alice, post_event):
    offer = ticketed_space()
    hold = buy(offer, alice)
    body = paid_event(provider, hold, event_id="evt_paid")
    session = provider.sessions[hold.stripe_checkout_session_id]

    post_event(body)
    assert post_event(body).json()["duplicate"] is True
    # A different event about the same payment (delayed payment methods send both).
    post_event(stripe_event("checkout.session.async_payment_succeeded", dict(session)))

    assert counts(offer) == (0, 1)
    assert Ticket.objects.count() == 1
    assert Sale.objects.count() == 1
    assert ProcessedStripeEvent.objects.count() == 2


def test_an_unpaid_completed_session_waits_for_the_delayed_payment(provider, alice, post_event):
    offer = ticketed_space()
    hold = buy(offer, alice)
    session = dict(provider.session_complete(hold.stripe_checkout_session_id), payment_status="unpaid")

    post_event(stripe_event("checkout.session.completed", session))
    assert counts(offer) == (1, 0)
    assert not Ticket.objects.exists()

    post_event(stripe_event("checkout.session.async_payment_failed", session))
    assert counts(offer) == (0, 0)
    assert SeatHold.objects.get().status == SeatHold.Status.RELEASED


@pytest.mark.parametrize(
    "signature", [None, "t=1,v1=00", "wrong-secret", "stale"], ids=["missing", "garbage", "forged", "stale"]
)
def test_a_forged_or_stale_payment_webhook_is_refused_and_issues_nothing(provider, alice, post_event, signature):
    offer = ticketed_space()
    hold = buy(offer, alice)
    body = paid_event(provider, hold)
    if signature == "wrong-secret":
        signature = sign_webhook(body, "whsec_forger")
    elif signature == "stale":
        signature = sign_webhook(body, WEBHOOK_SECRET, timestamp=int(timezone.now().timestamp()) - 600)

    response = post_event(body, signature=signature)

    assert response.status_code == 400
    assert "error" in response.json()
    assert counts(offer) == (1, 0)
    assert not Ticket.objects.exists() and not Sale.objects.exists() and not ProcessedStripeEvent.objects.exists()


# --- Bad input: nothing held, nothing charged ------------------------------------------------------


def test_a_second_checkout_says_when_the_first_ends_in_the_buyers_zone(provider, alice):
    with time_machine.travel(datetime(2030, 1, 10, 3, 0, tzinfo=UTC), tick=False):
        offer = ticketed_space()
        hold = buy(offer, alice)
        with timezone.override(ZoneInfo("America/New_York")):
            with pytest.raises(ValidationError) as refused:
                buy(offer, alice)

    until = timezone.localtime(hold.expires_at, ZoneInfo("America/New_York"))
    assert f"start again after {until:%H:%M} EST." in refused.value.messages[0]
    assert "UTC" not in refused.value.messages[0]


def test_a_second_ticket_is_refused_by_the_database_and_nothing_changes(provider, alice, post_event):
    offer = ticketed_space()
    hold = buy(offer, alice)
    with pytest.raises(ValidationError, match="already have a checkout open"):
        buy(offer, alice)
    post_event(paid_event(provider, hold))

    with pytest.raises(ValidationError, match="You already have a ticket for this Space."):
        buy(offer, alice)

    assert counts(offer) == (0, 1)
    assert SeatHold.objects.count() == 1
    assert len(provider.requests_to("POST", "/v1/checkout/sessions")) == 1


def test_buying_for_a_cancelled_or_ended_space_is_refused(provider, alice, bob):
    offer = ticketed_space()
    room_services.space_cancel(space=offer.space, by=offer.space.host)
    with pytest.raises(ValidationError, match="This Space was cancelled."):
        buy(offer, alice)

    other = ticketed_space(host=make_creator("erin"))
    Space.objects.filter(pk=other.space_id).update(state=Space.State.ENDED, ended_at=timezone.now())
    other.space.refresh_from_db()
    with pytest.raises(ValidationError, match="This Space has ended."):
        buy(other, bob)

    assert counts(offer) == (0, 0) and counts(other) == (0, 0)
    assert not SeatHold.objects.exists()
    assert not provider.requests_to("POST", "/v1/checkout/sessions")


def test_sales_close_when_the_space_starts(provider, alice):
    offer = ticketed_space()
    room_services.space_start(space=offer.space, by=offer.space.host)
    with pytest.raises(ValidationError, match="Ticket sales have closed: the Space has started."):
        buy(offer, alice)

    late = ticketed_space(host=make_creator("erin"), in_hours=1)
    with time_machine.travel(late.space.scheduled_for + timedelta(minutes=1), tick=False):
        with pytest.raises(ValidationError, match="Ticket sales have closed"):
            buy(late, alice)
    assert not SeatHold.objects.exists()


def test_a_sold_out_space_says_so(provider, alice, bob, client):
    offer = ticketed_space(quantity=1)
    buy(offer, alice)
    with pytest.raises(ValidationError, match="Sold out."):
        buy(offer, bob)
    client.force_login(bob)
    response = client.post(reverse("ticketing:ticket_buy", kwargs={"space_id": offer.space_id}), follow=True)
    assert "Sold out." in response.content.decode()
    assert counts(offer) == (1, 0)


def test_the_host_and_people_the_host_blocked_cannot_buy(provider, alice):
    offer = ticketed_space()
    with pytest.raises(ValidationError, match="You're the host"):
        buy(offer, offer.space.host)
    Block.objects.create(blocker=offer.space.host, blocked=alice)
    with pytest.raises(ValidationError, match="can't buy a ticket"):
        buy(offer, alice)
    assert counts(offer) == (0, 0)


def test_when_stripe_refuses_the_seat_is_released_at_once(provider, alice):
    offer = ticketed_space(quantity=1)
    provider.fail_path["/v1/checkout/sessions"] = (400, "Your account cannot currently make charges.")

    with pytest.raises(ValidationError, match=r"Payments are unavailable right now.*\(reference [0-9A-F]{8}\)"):
        buy(offer, alice)

    assert counts(offer) == (0, 0)
    assert SeatHold.objects.get().status == SeatHold.Status.RELEASED
    assert buy(offer, alice).status == SeatHold.Status.HELD  # the seat and the buyer are free again


# --- Releasing seats ------------------------------------------------------------------------------


def test_the_expired_webhook_releases_the_seat_once(provider, alice, bob, post_event):
    offer = ticketed_space(quantity=1)
    hold = buy(offer, alice)
    body = expired_event(provider, hold)

    post_event(body)
    post_event(body)

    assert counts(offer) == (0, 0)
    assert SeatHold.objects.get(pk=hold.pk).status == SeatHold.Status.RELEASED
    assert buy(offer, bob).status == SeatHold.Status.HELD


def test_the_sweep_expires_overdue_sessions_at_stripe_then_releases_their_seats(settings, provider, alice, bob):
    offer = ticketed_space(quantity=2)
    overdue = buy(offer, alice)
    with time_machine.travel(timezone.now() + timedelta(minutes=10), tick=False):
        fresh = buy(offer, bob)

    with time_machine.travel(overdue.expires_at + timedelta(seconds=1), tick=False):
        assert release_expired_seat_holds.delay().get() == 1

    assert SeatHold.objects.get(pk=overdue.pk).status == SeatHold.Status.RELEASED
    assert SeatHold.objects.get(pk=fresh.pk).status == SeatHold.Status.HELD
    assert counts(offer) == (1, 0)
    (expire,) = provider.requests_to("POST", f"/v1/checkout/sessions/{overdue.stripe_checkout_session_id}/expire")
    assert expire is not None
    assert provider.sessions[overdue.stripe_checkout_session_id]["status"] == "expired"
    assert "ticketing-release-expired-seat-holds" in settings.CELERY_BEAT_SCHEDULE


def test_the_sweep_leaves_a_session_paid_meanwhile_to_its_webhook(provider, alice, post_event):
    offer = ticketed_space(quantity=1)
    hold = buy(offer, alice)
    body = paid_event(provider, hold)  # paid at Stripe; the webhook is late

    with time_machine.travel(hold.expires_at + timedelta(seconds=1), tick=False):
        assert tickets.seat_holds_release_expired() == 0
    assert counts(offer) == (1, 0)

    post_event(body)
    assert counts(offer) == (0, 1)
    assert Ticket.objects.get().buyer == alice


def test_a_payment_for_a_released_seat_takes_a_free_seat(provider, alice, post_event):
    offer = ticketed_space(quantity=2)
    hold = buy(offer, alice)
    body = paid_event(provider, hold)
    tickets.seat_hold_release(hold=hold)  # e.g. the expiry event overtook the payment

    post_event(body)

    assert counts(offer) == (0, 1)
    assert Ticket.objects.get().buyer == alice
    assert not provider.requests_to("POST", "/v1/refunds")


def test_a_payment_for_a_released_seat_of_a_sold_out_space_is_refunded_at_once(provider, alice, bob, post_event):
    offer = ticketed_space(quantity=1)
    hold = buy(offer, alice)
    body = paid_event(provider, hold)
    tickets.seat_hold_release(hold=hold)
    post_event(paid_event(provider, buy(offer, bob)))  # bob takes the only seat

    post_event(body)

    assert counts(offer) == (0, 1)
    assert list(Ticket.objects.values_list("buyer__username", flat=True)) == ["bob"]
    (refund,) = provider.requests_to("POST", "/v1/refunds")
    assert refund.params["payment_intent"] == provider.sessions[hold.stripe_checkout_session_id]["payment_intent"]
    assert refund.params["reverse_transfer"] == "true" and refund.params["refund_application_fee"] == "true"
    assert Notification.objects.filter(recipient=alice, text__contains="refunded in full").exists()
    assert Sale.objects.count() == 1


# --- The ticket page ------------------------------------------------------------------------------


def test_the_ticket_page_counts_views_by_people_without_a_ticket(provider, client, alice, bob, post_event):
    offer = ticketed_space(price_cents=700, quantity=3)
    url = reverse("ticketing:space_tickets", kwargs={"space_id": offer.space_id})
    client.force_login(bob)
    page = client.get(url).content.decode()
    client.get(url)
    assert "$7.00" in page and "Buy a ticket for $7.00" in page

    post_event(paid_event(provider, buy(offer, alice)))
    client.force_login(alice)
    assert "You have a ticket" in client.get(url).content.decode()
    client.force_login(offer.space.host)
    client.get(url)

    offer.refresh_from_db()
    assert offer.page_views == 1, "bob's reload is the same view; a buyer's and the host's visits are none"
