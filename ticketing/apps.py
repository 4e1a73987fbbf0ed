from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "ticketing"

    def ready(self) -> None:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured

        from rooms import access, signals
        from rooms.models import Space

        from . import audience, receivers
        from .fees import fee_split
        from .tickets import ticket_admission

        # A malformed fee schedule must stop start-up, not the first sale.
        try:
            fee_split(lifetime_gross_cents=0, gross_cents=0, schedule=settings.PLATFORM_FEE_SCHEDULE)
        except ValueError as exc:
            raise ImproperlyConfigured(f"PLATFORM_FEE_SCHEDULE: {exc}") from exc
        audience.register()

        # rooms never imports ticketing: it sends signals and asks registered checks instead.
        access.register_admission_check(Space.Audience.TICKETED, ticket_admission)
        signals.space_cancelled.connect(receivers.refund_tickets_of_cancelled_space, dispatch_uid="tickets-cancel")
        signals.space_rescheduled.connect(receivers.tell_ticket_buyers_of_new_time, dispatch_uid="tickets-resched")
