"""Cancelling refunds every ticket once; the refund task is idempotent; rescheduling offers refunds."""

from __future__ import annotations

from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError
from django.urls import reverse
from django.utils import timezone

from accounts.models import Notification, User
from rooms import services as room_services
from spaces_site.celery import app as celery_app
from tests.ticketing.webhook_events import stripe_event
from ticketing import stripe_gateway, tickets
from ticketing.models import CreatorProfile, Sale, SeatHold, Ticket
from ticketing.tasks import refund_ticket, requeue_pending_refunds

from .tickets_support import buy, counts, paid_event, ticketed_space

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(provider, post_event, alice, bob, charlie):
    """A Space with two paid tickets (alice, bob) and one open checkout (charlie)."""
    offer = ticketed_space(price_cents=2500, quantity=10)
    for buyer in (alice, bob):
        post_event(paid_event(provider, buy(offer, buyer)))
    buy(offer, charlie)
    return offer


@pytest.fixture
def retries_run_in_process():
    """Eager tasks re-run themselves on retry (countdown ignored) only when they don't propagate errors."""
    previous = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = previous


def _gross(offer) -> int:
    return CreatorProfile.objects.get(user=offer.space.host).lifetime_gross_cents


def test_suspending_a_host_cancels_their_ticketed_space_and_refunds_every_ticket(
    sold, provider, django_capture_on_commit_callbacks, alice
):
    from accounts import services as account_services

    staff = User.objects.create(username="moderator", is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        account_services.account_suspend(user=sold.space.host, by=staff)

    assert len(provider.requests_to("POST", "/v1/refunds")) == 2
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.REFUNDED}
    assert Notification.objects.filter(recipient=alice, text__contains="was refunded").count() == 1


def test_cancelling_refunds_every_ticket_exactly_once_and_closes_open_checkouts(
    sold, provider, django_capture_on_commit_callbacks, alice, charlie
):
    assert _gross(sold) == 5000
    open_hold = SeatHold.objects.get(buyer=charlie)

    with django_capture_on_commit_callbacks(execute=True):
        room_services.space_cancel(space=sold.space, by=sold.space.host)

    refunds = provider.requests_to("POST", "/v1/refunds")
    assert len(refunds) == 2
    intents = set(Ticket.objects.values_list("payment_intent_id", flat=True))
    assert {r.params["payment_intent"] for r in refunds} == intents
    assert {r.idempotency_key for r in refunds} == {f"refund-ticket-{t.pk}" for t in Ticket.objects.all()}
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.REFUNDED}
    assert all(t.refund_id.startswith("re_") and t.refunded_at for t in Ticket.objects.all())
    assert SeatHold.objects.get(pk=open_hold.pk).status == SeatHold.Status.RELEASED
    assert provider.sessions[open_hold.stripe_checkout_session_id]["status"] == "expired"
    assert counts(sold) == (0, 0)
    # The ledger keeps both sales; the fee schedule's position moves back.
    assert Sale.objects.filter(space=sold.space).count() == 2
    assert _gross(sold) == 0
    assert Notification.objects.filter(recipient=alice, text__contains="was refunded").count() == 1

    # Stripe confirms each refund by webhook later: nothing happens twice.
    for ticket in Ticket.objects.all():
        tickets.ticket_charge_refunded(
            {"payment_intent": ticket.payment_intent_id, "refunded": True, "refunds": {"data": [{"id": "re_x"}]}}
        )
        assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUNDED
    assert len(provider.requests_to("POST", "/v1/refunds")) == 2
    assert _gross(sold) == 0
    assert Notification.objects.filter(recipient=alice, text__contains="was refunded").count() == 1


def test_a_retried_task_never_refunds_twice(sold, retries_run_in_process, provider, monkeypatch, alice):
    ticket = Ticket.objects.get(buyer=alice)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)
    # The database connection drops after Stripe refunded, before the commit: the task's transaction
    # rolls back and Celery retries it.
    real_notify, failures = tickets.notification_create, [OperationalError("server closed the connection")]

    def notify_after_a_lost_connection(**kwargs):
        if failures:
            raise failures.pop()
        return real_notify(**kwargs)

    monkeypatch.setattr(tickets, "notification_create", notify_after_a_lost_connection)

    assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUNDED

    refunds = provider.requests_to("POST", "/v1/refunds")
    assert len(refunds) == 2  # asked twice, under one key ...
    assert refunds[0].idempotency_key == refunds[1].idempotency_key == f"refund-ticket-{ticket.pk}"
    assert len(provider.refunds) == 1  # ... refunded once
    ticket.refresh_from_db()
    assert ticket.refund_id == next(iter(provider.refunds))
    assert counts(sold) == (1, 1) and _gross(sold) == 2500  # seat and earnings moved once

    # Run again once done: returns at once without asking Stripe.
    assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUNDED
    assert len(provider.requests_to("POST", "/v1/refunds")) == 2


def test_a_refund_retried_after_stripe_forgot_the_key_counts_already_refunded_as_done(sold, provider, alice):
    ticket = Ticket.objects.get(buyer=alice)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)
    stripe_gateway.refund_create(payment_intent_id=ticket.payment_intent_id, idempotency_key="key-stripe-forgot")

    assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUNDED

    assert len(provider.refunds) == 1
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.REFUNDED
    assert _gross(sold) == 2500


def test_a_refund_that_keeps_failing_ends_refund_failed_with_the_error(sold, retries_run_in_process, provider, alice):
    ticket = Ticket.objects.get(buyer=alice)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)
    attempts = refund_ticket.max_retries + 1
    provider.fail_next.extend([(402, "Insufficient funds in the connected account.")] * attempts)

    assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUND_FAILED

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REFUND_FAILED
    assert "reference" in ticket.refund_error
    assert "Insufficient funds" not in ticket.refund_error  # Stripe's words stay in the log
    assert len(provider.requests_to("POST", "/v1/refunds")) == attempts
    assert not provider.refunds
    assert _gross(sold) == 5000


def test_a_refund_that_fails_once_succeeds_on_retry(sold, retries_run_in_process, provider, alice):
    ticket = Ticket.objects.get(buyer=alice)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)
    provider.fail_next.append((402, "Try again later."))

    assert refund_ticket.delay(ticket.pk).get() == Ticket.Status.REFUNDED
    assert len(provider.refunds) == 1


def test_a_refund_made_in_stripes_dashboard_arrives_by_webhook(sold, post_event, alice):
    ticket = Ticket.objects.get(buyer=alice)
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": ticket.payment_intent_id,
        "refunded": True,
        "refunds": {"data": [{"id": "re_dashboard"}]},
    }

    post_event(stripe_event("charge.refunded", charge))

    ticket.refresh_from_db()
    assert (ticket.status, ticket.refund_id) == (Ticket.Status.REFUNDED, "re_dashboard")
    assert counts(sold) == (1, 1)  # the seat is free again
    assert _gross(sold) == 2500


# --- Rescheduling ---------------------------------------------------------------------------------


def test_rescheduling_tells_buyers_they_may_ask_for_a_refund(sold, alice, bob):
    space = sold.space
    room_services.space_update(space=space, by=space.host, scheduled_for=space.scheduled_for + timedelta(days=2))

    url = reverse("ticketing:space_tickets", kwargs={"space_id": space.pk})
    told = Notification.objects.filter(url=url, text__contains="ask for a refund")
    assert set(told.values_list("recipient__username", flat=True)) == {"alice", "bob"}
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.VALID}


def test_a_host_elsewhere_reschedules_and_each_buyer_reads_the_new_time_in_their_own_zone(sold, alice, bob):
    """The host in New York moves it to 20:00 their time: a buyer in Tokyo reads 10:00 JST the next day, one whose
    zone is not known 01:00 UTC; none reads "20:00 UTC"."""
    User.objects.filter(pk=alice.pk).update(time_zone="Asia/Tokyo")
    space = sold.space
    new_time = (timezone.now() + timedelta(days=3)).replace(hour=1, minute=0, second=0, microsecond=0)
    with timezone.override(ZoneInfo("America/New_York")):
        room_services.space_update(space=space, by=space.host, scheduled_for=new_time)

    told = dict(Notification.objects.filter(text__contains="moved to").values_list("recipient_id", "text"))
    tokyo = new_time.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"moved to {tokyo:%A %-d %B %Y}, 10:00 JST." in told[alice.pk]
    assert f"moved to {new_time.astimezone(UTC):%A %-d %B %Y}, 01:00 UTC." in told[bob.pk]


def test_a_buyer_asks_for_a_refund_before_the_start(
    sold, client, provider, django_capture_on_commit_callbacks, alice, bob
):
    ticket = Ticket.objects.get(buyer=alice)
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("ticketing:ticket_refund", kwargs={"pk": ticket.pk}), follow=True)

    assert "Your refund is on its way" in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REFUNDED
    assert len(provider.refunds) == 1
    assert Ticket.objects.get(buyer=bob).status == Ticket.Status.VALID
    page = client.get(reverse("ticketing:space_tickets", kwargs={"space_id": sold.space_id})).content.decode()
    assert "Your ticket was refunded on" in page  # "this page shows when it is done"
    assert "Buy a ticket" not in page  # buying again is refused ("You already have a ticket"), so not offered
    with pytest.raises(ValidationError, match="already refunded"):
        tickets.ticket_refund_request(ticket=ticket, by=alice)
    with pytest.raises(PermissionDenied):
        tickets.ticket_refund_request(ticket=Ticket.objects.get(buyer=bob), by=alice)


def test_a_refund_cannot_be_asked_for_once_the_space_has_started(sold, client, provider, bob):
    ticket = Ticket.objects.get(buyer=bob)
    client.force_login(bob)
    with time_machine.travel(sold.space.scheduled_for + timedelta(minutes=5), tick=False):
        response = client.post(reverse("ticketing:ticket_refund", kwargs={"pk": ticket.pk}), follow=True)
    assert "Refunds can be asked for only before the Space starts." in response.content.decode()
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.VALID
    assert not provider.requests_to("POST", "/v1/refunds")


def test_the_host_sees_each_refunds_state_on_the_ticket_page(sold, client, retries_run_in_process, provider, bob):
    alice_ticket, bob_ticket = Ticket.objects.get(buyer__username="alice"), Ticket.objects.get(buyer=bob)
    Ticket.objects.filter(pk__in=[alice_ticket.pk, bob_ticket.pk]).update(status=Ticket.Status.REFUND_PENDING)
    refund_ticket.delay(alice_ticket.pk).get()
    provider.fail_next.extend([(402, "Insufficient funds.")] * (refund_ticket.max_retries + 1))
    refund_ticket.delay(bob_ticket.pk).get()

    client.force_login(sold.space.host)
    page = client.get(reverse("ticketing:space_tickets", kwargs={"space_id": sold.space_id})).content.decode()

    assert "<li>Refunded: 1</li>" in page
    assert "<li>Refund failed: 1</li>" in page


def test_a_refund_whose_task_was_lost_is_requeued_by_the_sweep(sold, provider, settings, alice):
    ticket = Ticket.objects.get(buyer=alice)
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)  # its message never arrived

    assert requeue_pending_refunds.delay().get() == 1
    assert requeue_pending_refunds.delay().get() == 0

    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.REFUNDED
    assert len(provider.refunds) == 1
    assert "ticketing-requeue-pending-refunds" in settings.CELERY_BEAT_SCHEDULE


def test_a_refund_stripe_refuses_during_a_cancel_does_not_fail_the_cancel(
    sold, client, provider, django_capture_on_commit_callbacks, alice
):
    provider.fail_path["/v1/refunds"] = (402, "The connected account has insufficient funds.")
    client.force_login(sold.space.host)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rooms:cancel", kwargs={"pk": sold.space_id}))

    assert response.status_code == 302
    sold.space.refresh_from_db()
    assert sold.space.state == "cancelled"
    statuses = sorted(Ticket.objects.values_list("status", flat=True))
    assert statuses == [Ticket.Status.REFUND_PENDING, Ticket.Status.REFUNDED]
    assert requeue_pending_refunds.delay().get() == 1
    assert set(Ticket.objects.values_list("status", flat=True)) == {Ticket.Status.REFUNDED}
    assert len(provider.refunds) == 2


def test_the_host_asked_to_confirm_a_cancel_reads_who_gets_their_money_back_and_then_that_sales_closed(sold, client):
    client.force_login(sold.space.host)
    page = client.get(reverse("rooms:cancel", kwargs={"pk": sold.space_id})).content.decode()

    # Alice and Bob paid; Charlie's open checkout is closed without a charge.
    assert '<strong id="cancel-refunds">2 ticket holders will be refunded in full ($50.00 in all).</strong>' in page

    client.post(reverse("rooms:cancel", kwargs={"pk": sold.space_id}))
    tickets_page = client.get(reverse("ticketing:space_tickets", kwargs={"space_id": sold.space_id})).content.decode()
    assert '<p role="status" id="sales-closed">This Space was cancelled.</p>' in tickets_page
    assert "tickets left" not in tickets_page  # it read "10 of 10 tickets left" once its tickets were refunded
