"""Tips: refusals with reasons, the Checkout sent to Stripe, and fulfilment only from signed webhooks."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Block, Notification
from rooms.models import Participant, Role, Space
from tests.rooms.factories import LiveSpaceFactory
from tests.ticketing.factories import make_creator
from tests.ticketing.webhook_events import stripe_event
from tests.ticketing.webhook_events import tip_checkout_event as completed
from ticketing import tips
from ticketing.models import CreatorProfile, Sale, Tip

URLS = {"success_url": "https://spaces.test/money/tips/done/", "cancel_url": "https://spaces.test/spaces/1/"}


@pytest.fixture
def space(creator) -> Space:
    return LiveSpaceFactory(host=creator, title="Late night jazz")


def start(space, tipper, amount_cents=500, announce=True) -> tuple[Tip, str]:
    return tips.tip_start(space=space, tipper=tipper, amount_cents=amount_cents, announce=announce, **URLS)


# --- Starting a tip ----------------------------------------------------------------------------------


def test_a_tip_opens_a_destination_checkout_with_the_platform_fee(provider, space, alice):
    tip, url = start(space, alice, amount_cents=2_500)

    assert tip.status == Tip.Status.PENDING
    assert (tip.host, tip.tipper, tip.space, tip.announce) == (space.host, alice, space, True)
    assert tip.application_fee_cents == 75  # 3% below $50,000
    [request] = provider.requests_to("POST", "/v1/checkout/sessions")
    params = request.params
    assert params["mode"] == "payment"
    assert params["line_items"][0]["price_data"]["unit_amount"] == "2500"
    assert params["payment_intent_data"]["application_fee_amount"] == "75"
    assert params["payment_intent_data"]["transfer_data"]["destination"] == space.host.creator_profile.stripe_account_id
    assert params["metadata"] == {"tip": str(tip.reference)}
    assert request.idempotency_key == f"tip-{tip.reference}"
    assert tip.stripe_checkout_session_id in url
    assert Tip.objects.get().stripe_checkout_session_id == tip.stripe_checkout_session_id


def test_the_fee_of_a_tip_across_the_threshold_is_split_by_tier(provider, space, alice):
    CreatorProfile.objects.filter(user=space.host).update(lifetime_gross_cents=4_999_900)
    tip, _ = start(space, alice, amount_cents=1_000)
    # $1 at 3% + $9 at 20% = 3 + 180 cents.
    assert tip.application_fee_cents == 183
    [request] = provider.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["payment_intent_data"]["application_fee_amount"] == "183"


@pytest.mark.parametrize(
    ("amount", "ok"), [(99, False), (100, True), (50_000, True), (50_001, False), (0, False), (-500, False)]
)
def test_the_amount_must_be_between_one_and_five_hundred_dollars(provider, space, alice, amount, ok):
    if ok:
        assert start(space, alice, amount_cents=amount)[0].amount_cents == amount
        return
    with pytest.raises(ValidationError) as refused:
        start(space, alice, amount_cents=amount)
    assert refused.value.message_dict == {"amount": ["A tip is between $1.00 and $500.00."]}
    assert not Tip.objects.exists()
    assert not provider.requests


def _scheduled(space):
    Space.objects.filter(pk=space.pk).update(state=Space.State.SCHEDULED, started_at=None)


def _ended(space):
    Space.objects.filter(pk=space.pk).update(state=Space.State.ENDED)


def _payout_paused(space):
    CreatorProfile.objects.filter(user=space.host).update(payouts_enabled=False)


def _no_payout_account(space):
    CreatorProfile.objects.filter(user=space.host).delete()


def _host_blocks(space, tipper):
    Block.objects.create(blocker=space.host, blocked=tipper)


def _tipper_blocks(space, tipper):
    Block.objects.create(blocker=tipper, blocked=space.host)


def _removed(space, tipper):
    Participant.objects.create(space=space, user=tipper, role=Role.LISTENER, removed_at=timezone.now())


@pytest.mark.parametrize(
    ("arrange", "reason"),
    [
        (lambda s, t: _scheduled(s), "Tips can only be sent while a Space is live."),
        (lambda s, t: _ended(s), "Tips can only be sent while a Space is live."),
        (lambda s, t: _payout_paused(s), "@dana can't receive tips yet: their payout account isn't ready."),
        (lambda s, t: _no_payout_account(s), "@dana can't receive tips yet: their payout account isn't ready."),
        (_host_blocks, "You can't tip @dana."),
        (_tipper_blocks, "You can't tip @dana."),
        (_removed, "You were removed from this Space."),
    ],
    ids=["scheduled", "ended", "payout-paused", "no-payout-account", "host-blocked", "tipper-blocked", "removed"],
)
def test_a_refused_tip_says_why_and_creates_and_charges_nothing(provider, space, alice, arrange, reason):
    arrange(space, alice)
    space.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        start(space, alice)
    assert refused.value.messages == [reason]
    assert not Tip.objects.exists()
    assert not provider.requests


def test_the_host_cannot_tip_themselves(provider, space):
    with pytest.raises(ValidationError) as refused:
        start(space, space.host)
    assert refused.value.messages == ["You can't tip yourself."]
    assert not Tip.objects.exists()


def test_a_stripe_refusal_leaves_no_tip_behind(provider, space, alice):
    provider.fail_path["/v1/checkout/sessions"] = (400, "Your account cannot currently make live charges.")
    with pytest.raises(ValidationError) as refused:
        start(space, alice)
    assert refused.value.messages[0].startswith("Payments are unavailable right now; nothing was charged.")
    assert not Tip.objects.exists()


# --- Fulfilment from the webhook ---------------------------------------------------------------------


def test_a_paid_checkout_marks_the_tip_paid_records_the_sale_and_tells_the_host(provider, post_event, space, alice):
    CreatorProfile.objects.filter(user=space.host).update(lifetime_gross_cents=4_999_900)
    tip, _ = start(space, alice, amount_cents=1_000)
    # Another sale lands before the tip is paid: the ledger still records the fee Stripe took.
    CreatorProfile.objects.filter(user=space.host).update(lifetime_gross_cents=5_000_000)

    assert post_event(completed(tip)).status_code == 200

    tip.refresh_from_db()
    assert tip.status == Tip.Status.PAID
    assert tip.paid_at is not None
    sale = Sale.objects.get()
    assert (sale.kind, sale.space, sale.buyer, sale.creator) == (Sale.Kind.TIP, space, alice, space.host)
    assert (sale.gross_cents, sale.platform_fee_cents, sale.creator_net_cents) == (1_000, 183, 817)
    assert sale.stripe_reference == tip.stripe_checkout_session_id
    assert CreatorProfile.objects.get(user=space.host).lifetime_gross_cents == 5_001_000
    notice = Notification.objects.get(recipient=space.host)
    assert notice.text == "Alice (@alice) tipped you $10.00 in “Late night jazz”"
    assert notice.actor == alice


def test_a_replayed_or_repeated_payment_is_applied_once(provider, post_event, space, alice):
    tip, _ = start(space, alice)
    body = completed(tip, event_id="evt_tip_paid")
    post_event(body)
    replay = post_event(body)
    # Stripe may also send a second, distinct event for the same session.
    post_event(completed(tip, event_type="checkout.session.async_payment_succeeded"))

    assert replay.json()["duplicate"] is True
    assert Sale.objects.count() == 1
    assert Notification.objects.filter(recipient=space.host).count() == 1
    assert CreatorProfile.objects.get(user=space.host).lifetime_gross_cents == 500


def test_an_unpaid_completion_waits_for_the_async_payment(provider, post_event, space, alice):
    tip, _ = start(space, alice)
    post_event(completed(tip, paid=False))
    tip.refresh_from_db()
    assert tip.status == Tip.Status.PENDING
    assert not Sale.objects.exists()

    post_event(completed(tip, event_type="checkout.session.async_payment_succeeded"))
    tip.refresh_from_db()
    assert tip.status == Tip.Status.PAID
    assert Sale.objects.get().gross_cents == 500


def test_an_expired_checkout_expires_the_tip_and_records_nothing(provider, post_event, space, alice):
    tip, _ = start(space, alice)
    post_event(completed(tip, paid=False, event_type="checkout.session.expired"))
    tip.refresh_from_db()
    assert tip.status == Tip.Status.EXPIRED
    assert not Sale.objects.exists()
    assert not Notification.objects.filter(recipient=space.host).exists()


def test_a_forged_webhook_changes_no_tip(provider, post_event, space, alice):
    tip, _ = start(space, alice)
    response = post_event(completed(tip), signature="t=1700000000,v1=deadbeef")
    assert response.status_code == 400
    tip.refresh_from_db()
    assert tip.status == Tip.Status.PENDING
    assert not Sale.objects.exists()


def test_a_payment_for_an_unknown_or_malformed_tip_reference_changes_nothing(post_event, space):
    for reference in ("0b7d1c8e-1111-4a6b-9c1e-5d2f3a4b5c6d", "not-a-uuid"):
        body = stripe_event(
            "checkout.session.completed",
            {"id": f"cs_{reference}", "mode": "payment", "payment_status": "paid", "metadata": {"tip": reference}},
        )
        assert post_event(body).status_code == 200
    assert not Sale.objects.exists()


def test_tips_to_another_host_do_not_leak_into_this_hosts_ledger(provider, post_event, space, alice):
    other = make_creator("erin")
    other_space = LiveSpaceFactory(host=other)
    tip, _ = start(other_space, alice, amount_cents=700)
    post_event(completed(tip))
    assert Sale.objects.get().creator == other
    assert not Sale.objects.filter(creator=space.host).exists()
