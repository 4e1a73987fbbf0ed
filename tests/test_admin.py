import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db


def test_every_model_of_ours_is_in_the_admin_with_search_and_filters():
    ours = [m for m in admin.site._registry if m._meta.app_label in {"accounts", "rooms", "ticketing", "captions"}]
    assert ours
    for model in ours:
        model_admin = admin.site._registry[model]
        assert model_admin.search_fields, model
        assert model_admin.list_filter, model


def test_every_admin_changelist_renders_with_a_search(admin_client):
    for model in admin.site._registry:
        meta = model._meta
        response = admin_client.get(f"/admin/{meta.app_label}/{meta.model_name}/", {"q": "x"})
        assert response.status_code == 200, meta.label


def test_staff_mark_space_reports_actioned_or_dismissed(admin_client):
    from rooms.models import SpaceReport
    from tests.accounts.factories import UserFactory
    from tests.rooms.factories import SpaceFactory

    space = SpaceFactory()
    first, second = (SpaceReport.objects.create(space=space, reporter=UserFactory(), reason="spam") for _ in range(2))
    assert first.status == SpaceReport.Status.OPEN
    url = "/admin/rooms/spacereport/"
    admin_client.post(url, {"action": "mark_actioned", "_selected_action": [first.pk]})
    admin_client.post(url, {"action": "mark_dismissed", "_selected_action": [second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("actioned", "dismissed")
    assert "Open" in admin_client.get(url, {"status__exact": "open"}).text
