"""The tip form on the room page and its own page, the way to Stripe, and the status page after."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rooms.models import Space
from tests.rooms.factories import LiveSpaceFactory
from ticketing.models import CreatorProfile, Tip

from .test_tips import completed


@pytest.fixture
def space(creator) -> Space:
    return LiveSpaceFactory(host=creator, title="Late night jazz")


def test_a_listener_sees_the_tip_form_on_the_room_page(client, space, alice):
    client.force_login(alice)
    page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="tip-form"' in page
    assert f'action="{reverse("ticketing:tip", args=[space.pk])}"' in page
    assert "Tip @dana" in page
    assert 'id="tip-feed"' in page
    assert "ticketing/tips.js" in page


def test_the_room_page_asks_once_whether_the_listener_may_join(client, space, alice):
    """The tip panel takes the page's answer: a rush of followers opening the room asks it once each."""
    client.force_login(alice)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="tip-form"' in page
    own_row = [
        q
        for q in queries.captured_queries
        if q["sql"].startswith('SELECT "rooms_participant"."id"') and f'"user_id" = {alice.pk})' in q["sql"]
    ]
    assert len(own_row) == 1, "\n".join(q["sql"] for q in own_row)


def test_the_host_sees_the_tip_feed_but_no_form(client, space):
    client.force_login(space.host)
    page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="tip-feed"' in page
    assert 'id="tip-form"' not in page


def test_the_room_page_says_why_a_host_cannot_be_tipped(client, space, alice):
    CreatorProfile.objects.filter(user=space.host).update(charges_enabled=False)
    client.force_login(alice)
    page = client.get(space.get_absolute_url()).content.decode()
    assert 'id="tip-form"' not in page
    assert "@dana can&#x27;t receive tips yet: their payout account isn&#x27;t ready." in page


def test_a_valid_tip_goes_on_to_stripes_checkout(client, provider, space, alice):
    client.force_login(alice)
    response = client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": "7.50", "announce": "on"})

    tip = Tip.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"http://testserver/money/test-provider/checkout/{tip.stripe_checkout_session_id}/"
    assert (tip.amount_cents, tip.announce) == (750, True)
    [request] = provider.requests_to("POST", "/v1/checkout/sessions")
    assert request.params["success_url"] == "http://testserver/money/tips/done/?session_id={CHECKOUT_SESSION_ID}"
    assert request.params["cancel_url"] == f"http://testserver/money/spaces/{space.pk}/tip/"


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0.99", "A tip is between $1.00 and $500.00."),
        ("500.01", "A tip is between $1.00 and $500.00."),
        ("-5", "A tip is between $1.00 and $500.00."),
        ("lots", "Enter an amount in dollars, like 5 or 12.50."),
        ("", "This field is required."),
        ("1.005", "Give dollars and cents: at most two digits after the point."),
        ("123456789", "A tip is between $1.00 and $500.00."),
        ("1e999999", "A tip is between $1.00 and $500.00."),
        ("NaN", "Enter an amount in dollars, like 5 or 12.50."),
    ],
)
def test_a_bad_amount_is_a_field_error_and_charges_nothing(client, provider, space, alice, amount, error):
    client.force_login(alice)
    response = client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": amount})
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not Tip.objects.exists()
    assert not provider.requests


def test_a_refusal_is_shown_on_the_tip_page_and_charges_nothing(client, provider, space):
    client.force_login(space.host)
    response = client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": "5"})
    assert response.status_code == 422
    assert "You can&#x27;t tip yourself." in response.content.decode()
    assert not Tip.objects.exists()
    assert not provider.requests


def test_the_tip_page_for_an_ended_space_explains_and_has_no_form(client, space, alice):
    Space.objects.filter(pk=space.pk).update(state=Space.State.ENDED)
    client.force_login(alice)
    page = client.get(reverse("ticketing:tip", args=[space.pk])).content.decode()
    assert "Tips can only be sent while a Space is live." in page
    assert "Continue to payment" not in page


def test_tipping_needs_a_login_and_an_existing_space(client, space, alice):
    assert client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": "5"}).status_code == 302
    client.force_login(alice)
    assert client.post(reverse("ticketing:tip", args=[space.pk + 999]), {"amount": "5"}).status_code == 404


def test_the_status_page_shows_pending_then_paid_only_to_the_tipper(client, provider, post_event, space, alice, bob):
    client.force_login(alice)
    client.post(reverse("ticketing:tip", args=[space.pk]), {"amount": "5"})
    tip = Tip.objects.get()
    done = f"{reverse('ticketing:tip_done')}?session_id={tip.stripe_checkout_session_id}"

    assert '<strong id="tip-status">Waiting for payment</strong>' in client.get(done).content.decode()
    post_event(completed(tip))
    assert '<strong id="tip-status">Paid</strong>' in client.get(done).content.decode()

    client.force_login(bob)
    assert client.get(done).status_code == 404
    assert client.get(reverse("ticketing:tip_done")).status_code == 404
