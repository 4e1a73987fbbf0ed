"""What rooms does when something happens in accounts."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.models import User
from accounts.signals import account_suspended, block_created

from . import services


@receiver(block_created, dispatch_uid="rooms.remove_blocked_from_live_spaces")
def remove_blocked_from_live_spaces(sender, *, blocker: User, blocked: User, **kwargs) -> None:
    services.participant_remove_blocked(host=blocker, user=blocked)


@receiver(block_created, dispatch_uid="rooms.drop_reminders_across_a_block")
def drop_reminders_across_a_block(sender, *, blocker: User, blocked: User, **kwargs) -> None:
    services.reminders_delete_between(user=blocker, other=blocked)


@receiver(account_suspended, dispatch_uid="rooms.close_a_suspended_accounts_spaces")
def close_a_suspended_accounts_spaces(sender, *, user: User, **kwargs) -> None:
    services.spaces_close_for_suspended(user=user)
