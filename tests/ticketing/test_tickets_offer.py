"""A host puts tickets on sale: eligibility with reasons, price and quantity limits, the page and the form."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from rooms import services as room_services
from rooms.models import Space
from tests.ticketing.factories import make_creator
from ticketing import tickets
from ticketing.models import TicketOffer

from .tickets_support import scheduled_space, ticketed_space

pytestmark = pytest.mark.django_db


def test_an_eligible_host_puts_tickets_on_sale_and_the_space_becomes_ticketed():
    offer = ticketed_space(price_cents=1500, quantity=50)

    assert (offer.price_cents, offer.quantity, offer.held_count, offer.sold_count) == (1500, 50, 0, 0)
    offer.space.refresh_from_db()
    assert offer.space.audience == Space.Audience.TICKETED


def test_every_missing_condition_is_a_reason_and_nothing_is_created(settings):
    settings.TICKETED_SPACES_MIN_FOLLOWERS = 2000
    host = make_creator("newbie", followers=1500, born=date(2015, 1, 1), profile={"super_follows_enrolled_at": None})
    host.creator_profile.charges_enabled = False
    host.creator_profile.save()
    space = scheduled_space(host)

    with pytest.raises(ValidationError) as refused:
        tickets.ticket_offer_create(space=space, by=host, price_cents=500, quantity=10)

    reasons = refused.value.messages
    assert "You need at least 2,000 followers to earn on Spaces; you have 1,500." in reasons
    assert "Creators must be 18 or older." in reasons
    assert "Enrol in Super Follows on your creator page first." in reasons
    assert any(r.startswith("Your payout account isn't ready yet") for r in reasons)
    assert not TicketOffer.objects.exists()
    space.refresh_from_db()
    assert space.audience == Space.Audience.PUBLIC


def test_a_host_without_a_creator_profile_is_told_to_connect_payouts():
    host = make_creator("plain", profile=False)
    with pytest.raises(ValidationError) as refused:
        tickets.ticket_offer_create(space=scheduled_space(host), by=host, price_cents=500, quantity=10)
    assert "Connect a payout account with Stripe." in refused.value.messages


@pytest.mark.parametrize(
    ("price_cents", "quantity", "message"),
    [
        (0, 10, "A ticket costs between $1.00 and $999.00."),
        (99_901, 10, "A ticket costs between $1.00 and $999.00."),
        (100_000, 10, "A ticket costs between $1.00 and $999.00."),
        (500, 0, "Offer at least one ticket."),
        (500, -3, "Offer at least one ticket."),
    ],
)
def test_the_service_refuses_prices_and_quantities_out_of_range(price_cents, quantity, message):
    space = scheduled_space()
    with pytest.raises(ValidationError) as refused:
        tickets.ticket_offer_create(space=space, by=space.host, price_cents=price_cents, quantity=quantity)
    assert refused.value.messages == [message]
    assert not TicketOffer.objects.exists()


def test_only_the_host_of_a_scheduled_space_sells_and_only_once(alice):
    offer = ticketed_space()
    with pytest.raises(ValidationError, match="already on sale"):
        tickets.ticket_offer_create(space=offer.space, by=offer.space.host, price_cents=900, quantity=5)
    other = scheduled_space(make_creator("erin"))
    with pytest.raises(PermissionDenied):
        tickets.ticket_offer_create(space=other, by=alice, price_cents=900, quantity=5)
    room_services.space_cancel(space=other, by=other.host)
    with pytest.raises(ValidationError, match="scheduled Space that hasn't started"):
        tickets.ticket_offer_create(space=other, by=other.host, price_cents=900, quantity=5)
    assert TicketOffer.objects.count() == 1


def test_a_super_followers_space_cannot_also_sell_tickets():
    space = scheduled_space(audience=Space.Audience.SUPER_FOLLOWERS)
    with pytest.raises(ValidationError, match="Super Followers"):
        tickets.ticket_offer_create(space=space, by=space.host, price_cents=900, quantity=5)


# --- The page and its form -----------------------------------------------------------------------


def test_the_host_finds_the_sell_link_on_the_scheduled_space_page(client):
    space = scheduled_space()
    client.force_login(space.host)
    page = client.get(space.get_absolute_url())
    assert reverse("ticketing:space_tickets", kwargs={"space_id": space.pk}) in page.content.decode()
    assert "Sell tickets for this Space" in page.content.decode()


@pytest.mark.parametrize(
    ("price", "quantity", "field", "message"),
    [
        ("0", "10", "price", "A ticket costs between $1.00 and $999.00."),
        ("1000", "10", "price", "A ticket costs between $1.00 and $999.00."),
        ("0.99", "10", "price", "A ticket costs between $1.00 and $999.00."),
        ("abc", "10", "price", "Enter a price in dollars, like 5 or 12.50."),
        ("12.505", "10", "price", "Give dollars and cents: at most two digits after the point."),
        ("123456789", "10", "price", "A ticket costs between $1.00 and $999.00."),
        ("5", "0", "quantity", "Offer at least one ticket."),
        ("5", "-1", "quantity", "Offer at least one ticket."),
        ("5", "", "quantity", "This field is required."),
    ],
)
def test_the_form_shows_a_field_error_and_creates_nothing(client, price, quantity, field, message):
    space = scheduled_space()
    client.force_login(space.host)
    response = client.post(
        reverse("ticketing:ticket_offer_create", kwargs={"space_id": space.pk}), {"price": price, "quantity": quantity}
    )
    assert response.status_code == 422
    assert response.context["form"].errors[field] == [message]
    assert message in response.content.decode()
    assert not TicketOffer.objects.exists()


def test_the_form_puts_tickets_on_sale(client):
    space = scheduled_space()
    client.force_login(space.host)
    response = client.post(
        reverse("ticketing:ticket_offer_create", kwargs={"space_id": space.pk}), {"price": "12.50", "quantity": "40"}
    )
    assert response.status_code == 302
    offer = TicketOffer.objects.get(space=space)
    assert (offer.price_cents, offer.quantity) == (1250, 40)
    page = client.get(response.url).content.decode()
    assert "$12.50" in page
    assert '<strong id="tickets-left">40</strong> of 40 tickets left' in page


def test_a_refused_host_sees_the_reasons_instead_of_the_form(client):
    host = make_creator("few", followers=10)
    space = scheduled_space(host)
    client.force_login(host)
    page = client.get(reverse("ticketing:space_tickets", kwargs={"space_id": space.pk})).content.decode()
    assert "You need at least 1,000 followers to earn on Spaces; you have 10." in page
    assert 'name="price"' not in page


def test_someone_else_cannot_sell_and_a_space_without_tickets_has_no_ticket_page(client, alice):
    space = scheduled_space()
    client.force_login(alice)
    url = reverse("ticketing:ticket_offer_create", kwargs={"space_id": space.pk})
    assert client.post(url, {"price": "5", "quantity": "5"}).status_code == 403
    assert client.get(reverse("ticketing:space_tickets", kwargs={"space_id": space.pk})).status_code == 404
    assert not TicketOffer.objects.exists()
