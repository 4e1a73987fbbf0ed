"""Receivers of rooms' lifecycle signals (connected in apps.py): what a Space's change means for tickets."""

from __future__ import annotations

from datetime import datetime

from rooms.models import Space

from . import tickets


def refund_tickets_of_cancelled_space(sender, *, space: Space, **kwargs) -> None:
    tickets.tickets_refund_all(space=space)


def tell_ticket_buyers_of_new_time(sender, *, space: Space, previous_time: datetime | None = None, **kwargs) -> None:
    tickets.tickets_notify_rescheduled(space=space, previous_time=previous_time)
