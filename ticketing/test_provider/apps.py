"""The test provider's app: its own tables, so test-mode objects never mix with the project's."""

from __future__ import annotations

from django.apps import AppConfig


class TestProviderConfig(AppConfig):
    name = "ticketing.test_provider"
    label = "stripe_test_provider"
    verbose_name = "Payments test mode"
    default_auto_field = "django.db.models.BigAutoField"
