"""Unread counts for the header on every page."""

from .selectors import unread_message_count, unread_notification_count


def unread_counts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "unread_notifications": unread_notification_count(user_id=user.pk),
        "unread_messages": unread_message_count(user_id=user.pk),
    }
