"""Stripe's webhooks: verified for real, stored once, applied once, driving accounts and Super Follows."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Notification
from tests.ticketing.webhook_events import WEBHOOK_SECRET, stripe_event
from ticketing import ledger, selectors, super_follows, webhooks
from ticketing.models import CreatorProfile, ProcessedStripeEvent, Sale, SuperFollowSubscription
from ticketing.tasks import reapply_stuck_stripe_events
from ticketing.test_provider.webhooks import signature_header as sign_webhook

from .factories import SuperFollowSubscriptionFactory

URLS = {"success_url": "https://spaces.test/done", "cancel_url": "https://spaces.test/@dana/"}
PERIOD_END = 1_900_000_000


def _account_event(account_id: str, *, ready: bool, event_id: str | None = None) -> bytes:
    return stripe_event(
        "account.updated",
        {
            "id": account_id,
            "object": "account",
            "charges_enabled": ready,
            "payouts_enabled": ready,
            "details_submitted": True,
            "requirements": {"currently_due": [] if ready else ["external_account"]},
        },
        event_id=event_id,
    )


@pytest.fixture
def onboarding_creator(creator):
    CreatorProfile.objects.filter(user=creator).update(
        charges_enabled=False, payouts_enabled=False, details_submitted=False, super_follows_enrolled_at=None
    )
    return CreatorProfile.objects.get(user=creator)


# --- Verification --------------------------------------------------------------------------------


def test_a_good_signature_is_accepted_stored_and_applied(post_event, onboarding_creator):
    response = post_event(_account_event(onboarding_creator.stripe_account_id, ready=True, event_id="evt_good"))

    assert response.status_code == 200
    assert response.json() == {"received": "evt_good", "duplicate": False}
    event = ProcessedStripeEvent.objects.get(event_id="evt_good")
    assert event.type == "account.updated"
    assert event.processed_at is not None
    onboarding_creator.refresh_from_db()
    assert onboarding_creator.payout_state == CreatorProfile.PayoutState.READY


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "t=1700000000,v1=deadbeef",
        sign_webhook(b'{"id": "evt_other"}', WEBHOOK_SECRET),
        "forged-with-wrong-secret",
        "stale",
    ],
    ids=["missing", "empty", "garbage", "signature-of-another-body", "wrong-secret", "stale"],
)
def test_a_bad_or_stale_signature_is_refused_and_changes_nothing(post_event, onboarding_creator, signature):
    body = _account_event(onboarding_creator.stripe_account_id, ready=True)
    if signature == "forged-with-wrong-secret":
        signature = sign_webhook(body, "whsec_forger")
    elif signature == "stale":
        signature = sign_webhook(body, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)

    response = post_event(body, signature=signature)

    assert response.status_code == 400
    assert "error" in response.json()
    assert not ProcessedStripeEvent.objects.exists()
    onboarding_creator.refresh_from_db()
    assert onboarding_creator.payout_state == CreatorProfile.PayoutState.ONBOARDING


@pytest.mark.parametrize(
    "body", [b"not json", b"[1, 2]", b'"evt"', b"", b'{"object": "event", "data": {}}', b'{"id": "evt_1", "type": 3}']
)
def test_a_signed_body_that_is_not_an_event_is_refused(post_event, body):
    response = post_event(body)
    assert response.status_code == 400
    assert not ProcessedStripeEvent.objects.exists()


def test_only_post_is_accepted(client):
    assert client.get(reverse("ticketing:stripe_webhook")).status_code == 405


def test_a_replayed_event_is_applied_once(post_event, onboarding_creator):
    body = _account_event(onboarding_creator.stripe_account_id, ready=True, event_id="evt_replay")
    first = post_event(body)
    second = post_event(body)

    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    assert ProcessedStripeEvent.objects.filter(event_id="evt_replay").count() == 1
    ready_notices = Notification.objects.filter(
        recipient=onboarding_creator.user, text__contains="payout account is ready"
    )
    assert ready_notices.count() == 1


def test_applying_a_stored_event_twice_does_nothing_the_second_time(post_event, onboarding_creator):
    post_event(_account_event(onboarding_creator.stripe_account_id, ready=True, event_id="evt_twice"))
    event = ProcessedStripeEvent.objects.get(event_id="evt_twice")
    assert webhooks.stripe_event_apply(event_pk=event.pk) is False


def test_an_event_type_we_do_not_use_is_stored_and_marked_done(post_event):
    response = post_event(stripe_event("payout.paid", {"id": "po_1", "object": "payout"}, event_id="evt_payout"))
    assert response.status_code == 200
    assert ProcessedStripeEvent.objects.get(event_id="evt_payout").processed_at is not None


def test_a_paid_checkout_that_names_nothing_sold_here_is_marked_done_and_records_nothing(post_event, creator):
    session = {
        "id": "cs_foreign",
        "object": "checkout.session",
        "mode": "payment",
        "payment_status": "paid",
        "amount_total": 5_000,
        "metadata": {"order": "from-another-integration"},
    }
    response = post_event(stripe_event("checkout.session.completed", session, event_id="evt_foreign"))

    assert response.status_code == 200
    assert ProcessedStripeEvent.objects.get(event_id="evt_foreign").processed_at is not None
    assert not Sale.objects.exists()


def test_the_endpoint_answers_before_the_work_is_done(client, django_capture_on_commit_callbacks, onboarding_creator):
    body = _account_event(onboarding_creator.stripe_account_id, ready=True, event_id="evt_later")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = client.post(
            reverse("ticketing:stripe_webhook"),
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=sign_webhook(body, WEBHOOK_SECRET),
        )
    assert response.status_code == 200
    event = ProcessedStripeEvent.objects.get(event_id="evt_later")
    assert event.processed_at is None
    onboarding_creator.refresh_from_db()
    assert not onboarding_creator.payout_ready

    assert len(queued) == 1
    queued[0]()  # what the worker does with the queued task
    event.refresh_from_db()
    onboarding_creator.refresh_from_db()
    assert event.processed_at is not None
    assert onboarding_creator.payout_ready


def test_a_stuck_event_is_applied_by_the_sweep(onboarding_creator):
    account = {
        "id": onboarding_creator.stripe_account_id,
        "charges_enabled": True,
        "payouts_enabled": True,
        "details_submitted": True,
    }
    now = datetime.now(UTC)
    event = ProcessedStripeEvent.objects.create(
        event_id="evt_stuck", type="account.updated", payload={"data": {"object": account}}, received_at=now
    )
    assert reapply_stuck_stripe_events() == 0  # just received: its own task is still on the way

    ProcessedStripeEvent.objects.filter(pk=event.pk).update(received_at=now - timedelta(minutes=10))
    assert reapply_stuck_stripe_events() == 1
    event.refresh_from_db()
    onboarding_creator.refresh_from_db()
    assert event.processed_at is not None
    assert onboarding_creator.payout_ready
    assert reapply_stuck_stripe_events() == 0


# --- Account sync --------------------------------------------------------------------------------


def test_account_updates_keep_the_creators_payout_state_in_step(post_event, creator):
    profile = CreatorProfile.objects.get(user=creator)
    post_event(_account_event(profile.stripe_account_id, ready=False))

    profile.refresh_from_db()
    assert profile.payout_state == CreatorProfile.PayoutState.RESTRICTED
    assert profile.requirements_due == ["external_account"]
    assert Notification.objects.filter(recipient=creator, text__contains="needs attention").exists()
    client = Client()
    client.force_login(creator)
    assert "Paused: Stripe needs more information" in client.get(reverse("ticketing:creator")).content.decode()


def test_an_update_for_an_unknown_account_changes_nothing(post_event, creator):
    before = CreatorProfile.objects.values().get(user=creator)
    response = post_event(_account_event("acct_not_ours", ready=False))
    assert response.status_code == 200
    assert CreatorProfile.objects.values().get(user=creator) == before


# --- Super Follow lifecycle ----------------------------------------------------------------------


def _session_completed(subscription: SuperFollowSubscription, *, paid: bool = True, sub_id: str = "sub_1") -> bytes:
    return stripe_event(
        "checkout.session.completed",
        {
            "id": subscription.stripe_checkout_session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "payment_status": "paid" if paid else "unpaid",
            "status": "complete",
            "amount_total": subscription.price_cents,
            "subscription": sub_id,
            "customer": "cus_1",
            "metadata": {"super_follow": str(subscription.reference)},
        },
    )


def _subscription_event(event_type: str, subscription, *, status: str, sub_id: str = "sub_1") -> bytes:
    return stripe_event(
        event_type,
        {
            "id": sub_id,
            "object": "subscription",
            "status": status,
            "customer": "cus_1",
            "items": {"data": [{"current_period_end": PERIOD_END}]},
            "metadata": {"super_follow": str(subscription.reference)},
        },
    )


def test_a_super_follow_lives_and_ends_by_stripes_events(post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    assert not selectors.is_super_follower(subscriber=alice, creator=plan.creator)

    post_event(_session_completed(subscription))
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.ACTIVE
    assert (subscription.stripe_subscription_id, subscription.stripe_customer_id) == ("sub_1", "cus_1")
    assert selectors.is_super_follower(subscriber=alice, creator=plan.creator)
    sale = Sale.objects.get()
    assert (sale.kind, sale.gross_cents, sale.platform_fee_cents, sale.creator_net_cents) == (
        "super_follow",
        299,
        9,
        290,
    )
    assert (sale.creator, sale.buyer, sale.super_follow) == (plan.creator, alice, subscription)
    assert Notification.objects.filter(recipient=plan.creator, actor=alice, text__contains="Super Follows you").exists()

    post_event(_subscription_event("customer.subscription.updated", subscription, status="past_due"))
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.PAST_DUE
    assert subscription.current_period_end == datetime.fromtimestamp(PERIOD_END, tz=UTC)
    assert selectors.is_super_follower(subscriber=alice, creator=plan.creator)

    post_event(_subscription_event("customer.subscription.deleted", subscription, status="canceled"))
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.CANCELED
    assert subscription.canceled_at is not None
    assert not selectors.is_super_follower(subscriber=alice, creator=plan.creator)

    # A late "active" update must not bring an ended Super Follow back.
    post_event(_subscription_event("customer.subscription.updated", subscription, status="active"))
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.CANCELED


def test_the_success_page_shows_what_the_webhook_decided(client, post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    post_event(_session_completed(subscription))
    client.force_login(alice)
    page = client.get(reverse("ticketing:subscribe_done"), {"session_id": subscription.stripe_checkout_session_id})
    assert "You Super Follow @dana for $2.99 a month." in page.content.decode()


def test_a_subscription_event_before_the_checkout_event_still_finds_its_row(post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    post_event(_subscription_event("customer.subscription.created", subscription, status="active"))
    post_event(_session_completed(subscription))

    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.ACTIVE
    assert subscription.stripe_subscription_id == "sub_1"
    assert Sale.objects.count() == 1


def test_an_unpaid_completion_waits_for_the_async_payment(post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    post_event(_session_completed(subscription, paid=False))
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.PENDING
    assert not Sale.objects.exists()


def test_an_expired_checkout_marks_the_pending_super_follow_expired(post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    body = stripe_event(
        "checkout.session.expired",
        {
            "id": subscription.stripe_checkout_session_id,
            "object": "checkout.session",
            "mode": "subscription",
            "metadata": {"super_follow": str(subscription.reference)},
        },
    )
    post_event(body)
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.EXPIRED


def test_renewals_enter_the_ledger_once(post_event, plan, alice, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    post_event(_session_completed(subscription))
    invoice = {
        "id": "in_renewal_1",
        "object": "invoice",
        "billing_reason": "subscription_cycle",
        "amount_paid": 299,
        "parent": {"subscription_details": {"metadata": {"super_follow": str(subscription.reference)}}},
    }
    first_invoice = {**invoice, "id": "in_first", "billing_reason": "subscription_create"}
    post_event(stripe_event("invoice.paid", first_invoice))
    body = stripe_event("invoice.paid", invoice)
    post_event(body)
    post_event(body)  # Stripe redelivers
    post_event(stripe_event("invoice.paid", invoice))  # a different event about the same invoice

    assert sorted(Sale.objects.values_list("stripe_reference", flat=True)) == sorted(
        ["in_renewal_1", subscription.stripe_checkout_session_id]
    )
    assert CreatorProfile.objects.get(user=plan.creator).lifetime_gross_cents == 598


def test_a_second_paid_checkout_for_the_same_creator_is_cancelled_not_billed_twice(post_event, plan, alice, provider):
    first, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    # An earlier checkout whose first payment was left incomplete and goes through now: two open checkouts for one
    # creator can't be started (the constraint `super_follow_one_checkout_per_creator`), this way there are two.
    second = SuperFollowSubscriptionFactory(
        subscriber=alice,
        plan=plan,
        stripe_checkout_session_id="cs_other_tab",
        status=SuperFollowSubscription.Status.INCOMPLETE,
    )
    provider.subscription_add("sub_2")

    post_event(_session_completed(first, sub_id="sub_1"))
    post_event(_session_completed(second, sub_id="sub_2"))

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == SuperFollowSubscription.Status.ACTIVE
    assert second.status == SuperFollowSubscription.Status.CANCELED
    assert provider.requests_to("DELETE", "/v1/subscriptions/sub_2")
    assert provider.subscriptions["sub_2"]["status"] == "canceled"
    assert Sale.objects.count() == 1


def test_a_subscriber_cancels_at_the_end_of_the_paid_month(client, plan, alice, provider):
    subscription = SuperFollowSubscriptionFactory(
        subscriber=alice, plan=plan, status=SuperFollowSubscription.Status.ACTIVE, stripe_subscription_id="sub_9"
    )
    provider.subscription_add("sub_9")
    client.force_login(alice)
    response = client.post(reverse("ticketing:super_follow_cancel", args=["dana"]))

    assert response.status_code == 302
    (request,) = provider.requests_to("POST", "/v1/subscriptions/sub_9")
    assert request.params == {"cancel_at_period_end": "true"}
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.ACTIVE  # until Stripe's deleted event
    assert subscription.cancel_at_period_end


def test_a_cancelled_super_follow_says_when_it_ends_and_offers_no_second_cancel(client, plan, alice, provider):
    subscription = SuperFollowSubscriptionFactory(
        subscriber=alice,
        plan=plan,
        status=SuperFollowSubscription.Status.ACTIVE,
        stripe_subscription_id="sub_9",
        current_period_end=datetime(2027, 1, 3, 12, tzinfo=UTC),
    )
    provider.subscription_add("sub_9")
    client.force_login(alice)
    cancel_url = reverse("ticketing:super_follow_cancel", args=["dana"])

    page = client.post(cancel_url, follow=True).content.decode()
    assert "Your Super Follow of @dana ends with the month you paid for." in page
    assert "Cancelled: ends on" in page and "3 January 2027" in page
    assert cancel_url not in page  # no Cancel button that would only do it again

    again = client.post(cancel_url, follow=True).content.decode()
    assert "This Super Follow is already cancelled: it ends with the month you paid for." in again
    assert len(provider.requests_to("POST", "/v1/subscriptions/sub_9")) == 1

    # Resumed from Stripe's side before the month ended: our copy follows, and Cancel is offered again.
    super_follows.super_follow_subscription_changed(
        {"id": "sub_9", "object": "subscription", "status": "active", "cancel_at_period_end": False}
    )
    subscription.refresh_from_db()
    assert not subscription.cancel_at_period_end
    assert cancel_url in client.get(reverse("accounts:profile", args=["dana"])).content.decode()


# --- The ledger across the fee boundary ----------------------------------------------------------


def test_sales_are_split_at_the_creators_lifetime_earnings(creator):
    CreatorProfile.objects.filter(user=creator).update(lifetime_gross_cents=4_999_500)

    crossing = ledger.sale_record(creator=creator, kind=Sale.Kind.TIP, gross_cents=1_000, stripe_reference="ch_a")
    after = ledger.sale_record(creator=creator, kind=Sale.Kind.TIP, gross_cents=1_000, stripe_reference="ch_b")
    again = ledger.sale_record(creator=creator, kind=Sale.Kind.TIP, gross_cents=1_000, stripe_reference="ch_b")

    assert (crossing.platform_fee_cents, crossing.creator_net_cents) == (115, 885)
    assert (after.platform_fee_cents, after.creator_net_cents) == (200, 800)
    assert again.pk == after.pk
    assert CreatorProfile.objects.get(user=creator).lifetime_gross_cents == 5_001_500
