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
