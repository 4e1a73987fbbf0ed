"""`model_update` (spaces_site.services): the one way a plain change of some fields is written."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from spaces_site.services import model_update
from tests.accounts.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_only_the_changed_whitelisted_fields_are_saved():
    user = UserFactory(display_name="Ann", bio="old")
    with CaptureQueriesContext(connection) as queries:
        user, changed = model_update(
            instance=user,
            fields=["display_name", "bio"],
            data={"display_name": "Ann", "bio": "new", "username": "someone_else", "is_staff": True},
        )
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    assert changed and len(updates) == 1
    assert '"bio"' in updates[0] and '"display_name"' not in updates[0] and '"username"' not in updates[0]
    stored = User.objects.get(pk=user.pk)
    assert (stored.bio, stored.username, stored.is_staff) == ("new", user.username, False)


def test_nothing_changed_writes_nothing():
    user = UserFactory(bio="same")
    with CaptureQueriesContext(connection) as queries:
        _, changed = model_update(instance=user, fields=["bio"], data={"bio": "same"})
    assert not changed and queries.captured_queries == []


def test_a_value_the_model_refuses_is_not_saved():
    user = UserFactory(bio="short")
    with pytest.raises(ValidationError) as refused:
        model_update(instance=user, fields=["bio"], data={"bio": "x" * 161})
    assert "bio" in refused.value.message_dict
    assert User.objects.get(pk=user.pk).bio == "short"
