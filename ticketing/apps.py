from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "ticketing"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from . import audience
        from .fees import fee_split

        # A malformed fee schedule must stop start-up, not the first sale.
        try:
            fee_split(lifetime_gross_cents=0, gross_cents=0, schedule=settings.PLATFORM_FEE_SCHEDULE)
        except ValueError as exc:
            raise ImproperlyConfigured(f"PLATFORM_FEE_SCHEDULE: {exc}") from exc
        audience.register()
