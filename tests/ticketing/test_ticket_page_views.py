"""The ticket page counts one view per person per day (the dashboard's conversion), not one per GET."""

import pytest
from django.urls import reverse

from tests.accounts.factories import UserFactory

from .tickets_support import ticketed_space

pytestmark = pytest.mark.django_db


def test_reloads_count_once_per_person_per_day(client, time_machine):
    time_machine.move_to("2026-06-01 09:00", tick=False)
    offer = ticketed_space(price_cents=1_500, quantity=10)
    page = reverse("ticketing:space_tickets", kwargs={"space_id": offer.space_id})
    first, second = UserFactory(), UserFactory()
    client.force_login(first)
    for _ in range(5):
        assert client.get(page).status_code == 200
    client.force_login(second)
    client.get(page)
    offer.refresh_from_db()
    assert offer.page_views == 2
    time_machine.move_to("2026-06-02 09:00", tick=False)
    client.get(page)
    offer.refresh_from_db()
    assert offer.page_views == 3, "a new day is a new view"
