"""The creator's page, payout onboarding round trip and the Super Follow button on a profile."""

from __future__ import annotations

from django.template import Context, Template
from django.test import RequestFactory
from django.urls import reverse

from accounts.services import block_create
from tests.ticketing.factories import make_creator
from ticketing.models import CreatorProfile, SuperFollowSubscription

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory


def test_the_creator_page_needs_a_login(client):
    response = client.get(reverse("ticketing:creator"))
    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_the_creator_page_lists_what_is_missing(client, db):
    user = make_creator("small", followers=10, born=None, profile=False)
    client.force_login(user)
    page = client.get(reverse("ticketing:creator")).content.decode()
    assert "you have 10." in page
    assert "Add your date of birth" in page
    assert "Connect a payout account with Stripe." in page
    assert "Enrol in Super Follows</button>" not in page


def test_connecting_a_payout_account_goes_to_stripe_and_back(client, db, provider):
    user = make_creator(profile=False)
    client.force_login(user)

    response = client.post(reverse("ticketing:payout_start"))
    assert response.status_code == 303
    assert response["Location"].startswith("http://testserver/money/test-provider/connect/")
    link = provider.requests_to("POST", "/v1/account_links")[0].params
    assert link["return_url"] == "http://testserver/money/creator/payout/return/"
    assert link["refresh_url"] == "http://testserver/money/creator/payout/refresh/"

    expired_link = client.get(reverse("ticketing:payout_refresh"))
    assert expired_link.status_code == 303
    assert len(provider.requests_to("POST", "/v1/accounts")) == 1

    account = CreatorProfile.objects.get(user=user).stripe_account_id
    provider.account_complete(account)
    back = client.get(reverse("ticketing:payout_return"), follow=True).content.decode()
    assert "Payout account: Ready to receive payouts." in back
    assert "Enrol in Super Follows</button>" in back


def test_payout_start_refused_shows_the_reasons_and_calls_no_one(client, db, provider):
    user = make_creator(followers=3, profile=False)
    client.force_login(user)
    response = client.post(reverse("ticketing:payout_start"), follow=True)
    assert "you have 3." in response.content.decode()
    assert provider.requests == []


def test_stripe_down_during_onboarding_is_a_message_not_an_error_page(client, db, provider):
    user = make_creator(profile=False)
    provider.fail_next.append((400, "Connect is not enabled for this platform."))
    client.force_login(user)
    response = client.post(reverse("ticketing:payout_start"), follow=True)
    assert response.status_code == 200
    assert "Payments are unavailable right now; nothing was charged." in response.content.decode()
    assert "Connect is not enabled" not in response.content.decode()
    assert not CreatorProfile.objects.filter(user=user).exists()


def test_a_failed_link_keeps_the_account_for_the_next_try(client, db, provider):
    user = make_creator(profile=False)
    provider.fail_path["/v1/account_links"] = (400, "Try again later.")
    client.force_login(user)
    assert (
        "Payments are unavailable right now"
        in client.post(reverse("ticketing:payout_start"), follow=True).content.decode()
    )
    account = CreatorProfile.objects.get(user=user).stripe_account_id
    assert account in provider.accounts

    assert client.post(reverse("ticketing:payout_start")).status_code == 303
    assert len(provider.requests_to("POST", "/v1/accounts")) == 1
    assert provider.requests_to("POST", "/v1/account_links")[-1].params["account"] == account


def test_enrol_refused_is_422_with_reasons(client, db):
    user = make_creator(profile={"super_follows_enrolled_at": None, "payouts_enabled": False})
    client.force_login(user)
    response = client.post(reverse("ticketing:enrol"))
    assert response.status_code == 422
    assert "Your payout account isn&#x27;t ready yet" in response.content.decode()
    assert not CreatorProfile.objects.get(user=user).super_follows_enrolled


def test_enrol_then_offer_a_plan(client, db):
    user = make_creator(profile={"super_follows_enrolled_at": None})
    client.force_login(user)
    assert client.post(reverse("ticketing:enrol")).status_code == 302
    page = client.get(reverse("ticketing:creator")).content.decode()
    assert "You're enrolled. 0 active Super Followers, $0.00 a month." in page
    assert 'name="price_cents"' in page


def _button(viewer, creator) -> str:
    request = RequestFactory().get("/")
    request.user = viewer
    template = Template("{% load ticketing %}{% super_follow_button creator %}")
    return template.render(Context({"request": request, "creator": creator, "csrf_token": "t"}))


def test_the_profile_button_offers_active_plans(plan, alice):
    SuperFollowPlanFactory(creator=plan.creator, price_cents=999, active=False)
    html = _button(alice, plan.creator)
    assert "Super Follow · $2.99/month" in html
    assert "$9.99" not in html
    assert reverse("ticketing:subscribe", args=[plan.pk]) in html


def test_the_profile_button_shows_a_live_super_follow_and_hides_from_self_and_blocked(plan, alice, bob):
    SuperFollowSubscriptionFactory(subscriber=alice, plan=plan, status=SuperFollowSubscription.Status.ACTIVE)
    assert "Super Follower" in _button(alice, plan.creator)
    assert "Cancel Super Follow ($2.99/month)" in _button(alice, plan.creator)
    assert "Super Follow ·" not in _button(plan.creator, plan.creator)
    block_create(blocker=plan.creator, blocked=bob)
    assert "Super Follow ·" not in _button(bob, plan.creator)


def test_no_button_for_a_creator_not_enrolled(db, alice):
    user = make_creator(profile={"super_follows_enrolled_at": None})
    SuperFollowPlanFactory(creator=user, price_cents=299)
    assert "Super Follow ·" not in _button(alice, user)
