"""Starting a Super Follow: a Checkout Session in subscription mode, nothing active until Stripe says so."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.services import block_create
from ticketing import stripe_gateway, super_follows
from ticketing.models import CreatorProfile, SuperFollowSubscription

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory

URLS = {"success_url": "https://spaces.test/money/super-follows/done/", "cancel_url": "https://spaces.test/@dana/"}


def test_checkout_sends_a_subscription_with_the_platform_percentage_to_the_creator(plan, alice, provider):
    subscription, url = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)

    (request,) = provider.requests_to("POST", "/v1/checkout/sessions")
    sent = request.params
    account = CreatorProfile.objects.get(user=plan.creator).stripe_account_id
    assert sent["mode"] == "subscription"
    assert sent["line_items"][0]["price_data"]["unit_amount"] == "299"
    assert sent["subscription_data"]["application_fee_percent"] == "3.00"
    assert sent["subscription_data"]["transfer_data"] == {"destination": account}
    assert sent["subscription_data"]["metadata"] == {"super_follow": str(subscription.reference)}
    assert sent["metadata"] == {"super_follow": str(subscription.reference)}
    assert sent["customer_email"] == alice.email
    assert request.idempotency_key == f"super-follow-checkout-{subscription.reference}"
    assert url == provider.sessions[subscription.stripe_checkout_session_id]["url"]
    assert subscription.status == SuperFollowSubscription.Status.PENDING
    assert (subscription.price_cents, subscription.application_fee_bps) == (299, 300)


def test_past_the_threshold_the_percentage_is_twenty(plan, alice, provider):
    CreatorProfile.objects.filter(user=plan.creator).update(lifetime_gross_cents=5_000_000)
    super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    sent = provider.requests_to("POST", "/v1/checkout/sessions")[0].params
    assert sent["subscription_data"]["application_fee_percent"] == "20.00"


def _refused(plan, subscriber, provider, match):
    before = SuperFollowSubscription.objects.count()
    with pytest.raises(ValidationError, match=match):
        super_follows.super_follow_checkout_start(plan=plan, subscriber=subscriber, **URLS)
    assert provider.requests == []
    assert SuperFollowSubscription.objects.count() == before


def test_you_cannot_super_follow_yourself(plan, provider):
    _refused(plan, plan.creator, provider, "yourself")


def test_a_withdrawn_plan_is_refused(plan, alice, provider):
    super_follows.super_follow_plan_set_active(plan=plan, by=plan.creator, active=False)
    _refused(plan, alice, provider, "no longer offered")


def test_blocked_people_cannot_subscribe(plan, alice, provider):
    block_create(blocker=plan.creator, blocked=alice)
    _refused(plan, alice, provider, "can't Super Follow @dana")


def test_a_creator_whose_payouts_are_paused_takes_no_subscribers(plan, alice, provider):
    CreatorProfile.objects.filter(user=plan.creator).update(payouts_enabled=False)
    _refused(plan, alice, provider, "can't take Super Follows right now")


def test_a_second_live_super_follow_is_refused(plan, alice, provider):
    SuperFollowSubscriptionFactory(subscriber=alice, plan=plan, status=SuperFollowSubscription.Status.ACTIVE)
    _refused(plan, alice, provider, "already Super Follow @dana")


def test_a_refusal_from_stripe_leaves_no_pending_row(plan, alice, provider):
    provider.fail_next.append((400, "Your account cannot currently make live charges."))
    with pytest.raises(ValidationError, match=r"Payments are unavailable right now.*\(reference [0-9A-F]{8}\)"):
        super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    assert not SuperFollowSubscription.objects.exists()


def test_the_subscribe_button_redirects_to_stripe_with_the_session_placeholder(client, plan, alice, provider):
    client.force_login(alice)
    response = client.post(reverse("ticketing:subscribe", args=[plan.pk]))

    subscription = SuperFollowSubscription.objects.get()
    assert response.status_code == 303
    assert response["Location"] == provider.sessions[subscription.stripe_checkout_session_id]["url"]
    sent = provider.requests_to("POST", "/v1/checkout/sessions")[0].params
    assert sent["success_url"] == "http://testserver/money/super-follows/done/?session_id={CHECKOUT_SESSION_ID}"
    assert sent["cancel_url"] == "http://testserver/@dana/"


def test_a_refused_subscribe_returns_to_the_profile_with_the_reason(client, plan, provider):
    client.force_login(plan.creator)
    response = client.post(reverse("ticketing:subscribe", args=[plan.pk]), follow=True)
    assert "You can&#x27;t Super Follow yourself." in response.content.decode()
    assert not SuperFollowSubscription.objects.exists()


def test_the_success_page_only_shows_status(client, plan, alice, bob, provider):
    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    done = reverse("ticketing:subscribe_done")
    client.force_login(alice)
    response = client.get(done, {"session_id": subscription.stripe_checkout_session_id})
    assert response.status_code == 200
    assert "Waiting for payment" in response.content.decode()
    subscription.refresh_from_db()
    assert subscription.status == SuperFollowSubscription.Status.PENDING

    client.force_login(bob)
    assert client.get(done, {"session_id": subscription.stripe_checkout_session_id}).status_code == 404
    assert client.get(done).status_code == 404


def test_a_second_checkout_in_another_tab_closes_the_first_so_only_one_can_be_paid(plan, alice, provider):
    dearer = SuperFollowPlanFactory(creator=plan.creator, price_cents=499)
    first, _ = super_follows.super_follow_checkout_start(plan=dearer, subscriber=alice, **URLS)
    second, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)

    assert provider.sessions[first.stripe_checkout_session_id]["status"] == "expired"
    assert provider.sessions[second.stripe_checkout_session_id]["status"] == "open"
    first.refresh_from_db()
    assert first.status == SuperFollowSubscription.Status.EXPIRED


def test_a_checkout_paid_in_another_tab_refuses_a_new_one_before_its_event_arrives(plan, alice, provider):
    first, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    provider.session_complete(first.stripe_checkout_session_id)  # paid; Stripe's event is on its way

    with pytest.raises(ValidationError, match="from another checkout went through"):
        super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
    assert SuperFollowSubscription.objects.filter(subscriber=alice).count() == 1


def test_a_second_checkout_started_while_the_first_is_still_opening_is_refused_so_only_one_can_be_paid(
    plan, alice, provider, monkeypatch
):
    """Two tabs at the same instant: the second start comes while the first waits for Stripe's session."""
    opening = stripe_gateway.checkout_subscription_create
    refusals = []

    def first_still_opening(**kwargs):
        if not refusals:
            with pytest.raises(ValidationError) as refused:
                super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)
            refusals.append(refused.value.messages[0])
        return opening(**kwargs)

    monkeypatch.setattr(stripe_gateway, "checkout_subscription_create", first_still_opening)
    first, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)

    assert refusals == ["A checkout for your Super Follow of @dana is opening in another tab: finish it there."]
    assert list(SuperFollowSubscription.objects.values_list("pk", "status")) == [(first.pk, "pending")]
    assert [session["status"] for session in provider.sessions.values()] == ["open"]


def test_a_checkout_whose_opening_was_abandoned_long_ago_does_not_stop_a_new_one(plan, alice, provider):
    stale = SuperFollowSubscriptionFactory(subscriber=alice, plan=plan, stripe_checkout_session_id=None)
    SuperFollowSubscription.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - super_follows.ABANDONED_OPENING - timedelta(seconds=1)
    )

    subscription, _ = super_follows.super_follow_checkout_start(plan=plan, subscriber=alice, **URLS)

    stale.refresh_from_db()
    assert stale.status == SuperFollowSubscription.Status.EXPIRED
    assert subscription.status == SuperFollowSubscription.Status.PENDING
