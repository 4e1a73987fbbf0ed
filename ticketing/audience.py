"""What Super Followers get: the rules ticketing plugs into rooms.access and accounts.audience.

Registered from TicketingConfig.ready(), so rooms and accounts never import ticketing.
"""

from __future__ import annotations

from accounts import audience as post_audience
from accounts.models import User
from rooms import access
from rooms.models import Space
from spaces_site.decisions import ALLOW, Decision

from . import selectors


def super_followers_admission(space: Space, user: User) -> Decision:
    """A Space for Super Followers: the host's invited people and speakers, and their live Super Followers."""
    if access.invited_or_speaking(space=space, user=user):
        return ALLOW
    if selectors.is_super_follower(subscriber=user, creator=space.host):
        return ALLOW
    name = space.host.username
    return Decision(False, f"This Space is for @{name}'s Super Followers. Super Follow @{name} to join.")


def super_followers_host(user: User) -> Decision:
    if selectors.is_super_follows_enrolled(user=user):
        return ALLOW
    return Decision(
        False,
        "Only creators enrolled in Super Follows can host a Space for Super Followers; enrol on your creator page.",
    )


SUPER_FOLLOWS = post_audience.SuperFollows(
    creator_ids_of=lambda user: selectors.super_followed_creator_ids(subscriber=user),
    is_enrolled=lambda user: selectors.is_super_follows_enrolled(user=user),
)


def register() -> None:
    access.register_admission_check(Space.Audience.SUPER_FOLLOWERS, super_followers_admission)
    access.register_host_check(Space.Audience.SUPER_FOLLOWERS, super_followers_host)
    post_audience.register_super_follows(SUPER_FOLLOWS)
