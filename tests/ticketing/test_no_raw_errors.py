"""When the payment provider fails, every money page says so plainly with a reference; Stripe's words go to the log."""

from __future__ import annotations

import logging
import re

import pytest
from django.urls import reverse

from tests.accounts.factories import UserFactory
from tests.rooms.factories import LiveSpaceFactory
from tests.ticketing.factories import make_creator
from ticketing import tickets
from ticketing.models import SuperFollowSubscription, Ticket
from ticketing.tasks import refund_ticket

from .factories import SuperFollowPlanFactory, SuperFollowSubscriptionFactory
from .tickets_support import buy, paid_event, scheduled_space

# What a failing provider says: internal detail no visitor should ever read.
PROVIDER_TEXT = "Internal detail acct_1Abc: connection reset by peer (req_8XyZ)"
REFERENCE = re.compile(r"reference ([0-9A-F]{8})")


@pytest.fixture
def provider_down(provider):
    provider.fail_next.extend([(500, PROVIDER_TEXT)] * 50)
    return provider


def _assert_plain(page: str, caplog) -> None:
    assert PROVIDER_TEXT not in page
    assert "Traceback" not in page and "StripeError" not in page and "APIError" not in page
    match = REFERENCE.search(page)
    assert match, page
    logged = [r for r in caplog.records if r.name == "ticketing.stripe_gateway" and match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    assert PROVIDER_TEXT in logged[0].getMessage()


def _creator_onboarding(client):
    user = make_creator("leo", profile=False)
    client.force_login(user)
    return client.post(reverse("ticketing:payout_start"), follow=True)


def _creator_back_from_onboarding(client):
    user = make_creator("leo", profile={"charges_enabled": False, "payouts_enabled": False})
    client.force_login(user)
    return client.get(reverse("ticketing:payout_return"), follow=True)


def _fan_subscribes(client):
    plan = SuperFollowPlanFactory(creator=make_creator("leo"), price_cents=499)
    client.force_login(UserFactory(username="fan"))
    return client.post(reverse("ticketing:subscribe", args=[plan.pk]), follow=True)


def _fan_buys_a_ticket(client):
    space = scheduled_space(make_creator("leo"))
    tickets.ticket_offer_create(space=space, by=space.host, price_cents=1500, quantity=5)
    client.force_login(UserFactory(username="fan"))
    return client.post(reverse("ticketing:ticket_buy", args=[space.pk]), follow=True)


def _listener_tips(client):
    space = LiveSpaceFactory(host=make_creator("leo"))
    client.force_login(UserFactory(username="fan"))
    return client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": "5", "announce": "on"})


def _subscriber_cancels(client):
    plan = SuperFollowPlanFactory(creator=make_creator("leo"), price_cents=499)
    fan = UserFactory(username="fan")
    SuperFollowSubscriptionFactory(
        subscriber=fan, plan=plan, status=SuperFollowSubscription.Status.ACTIVE, stripe_subscription_id="sub_1"
    )
    client.force_login(fan)
    return client.post(reverse("ticketing:super_follow_cancel", args=["leo"]), follow=True)


@pytest.mark.parametrize(
    "journey",
    [
        _creator_onboarding,
        _creator_back_from_onboarding,
        _fan_subscribes,
        _fan_buys_a_ticket,
        _listener_tips,
        _subscriber_cancels,
    ],
)
def test_a_provider_failure_shows_a_plain_message_with_a_reference(client, provider_down, caplog, journey):
    caplog.set_level(logging.ERROR, logger="ticketing.stripe_gateway")
    response = journey(client)
    assert response.status_code in (200, 422)
    _assert_plain(response.content.decode(), caplog)


def test_a_refund_that_failed_shows_its_reference_not_stripes_words(client, provider, caplog, post_event):
    caplog.set_level(logging.ERROR, logger="ticketing.stripe_gateway")
    host = make_creator("leo")
    space = scheduled_space(host, in_hours=3)
    offer = tickets.ticket_offer_create(space=space, by=host, price_cents=1500, quantity=5)
    fan = UserFactory(username="fan")
    post_event(paid_event(provider, buy(offer, fan)))
    ticket = Ticket.objects.get()
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.REFUND_PENDING)
    provider.fail_next.extend([(402, PROVIDER_TEXT)] * (refund_ticket.max_retries + 1))
    refund_ticket.apply(args=(ticket.pk,), retries=refund_ticket.max_retries)
    assert Ticket.objects.get().status == Ticket.Status.REFUND_FAILED

    client.force_login(host)
    for url in (
        reverse("ticketing:dashboard_space", args=[space.pk]),
        reverse("ticketing:space_tickets", args=[space.pk]),
        reverse("ticketing:dashboard"),
    ):
        _assert_plain_or_absent(client.get(url).content.decode())
    _assert_plain(client.get(reverse("ticketing:dashboard_space", args=[space.pk])).content.decode(), caplog)


def _assert_plain_or_absent(page: str) -> None:
    assert PROVIDER_TEXT not in page
    assert "Traceback" not in page
