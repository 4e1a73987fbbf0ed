"""Who may earn: followers, age and a ready payout account, each refusal with its reason."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Notification
from spaces_site.decisions import ALLOW
from tests.ticketing.factories import make_creator
from ticketing import payouts, selectors, super_follows
from ticketing.models import CreatorProfile


def _enrol_refusal(user) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        super_follows.super_follows_enrol(user=user)
    return caught.value.messages


def test_a_newcomer_is_refused_with_every_reason(db):
    user = make_creator("newbie", followers=12, born=None, profile=False)
    reasons = _enrol_refusal(user)
    assert reasons == [
        "You need at least 1,000 followers to earn on Spaces; you have 12.",
        "Add your date of birth to your profile: creators must be 18 or older.",
        "Connect a payout account with Stripe.",
    ]
    assert not CreatorProfile.objects.filter(user=user).exists()


def test_selling_tickets_is_one_decision_whose_reason_is_the_first_of_every_reason(db):
    newcomer = make_creator("newbie", followers=12, born=None, profile=False)
    refused = selectors.may_sell_tickets(user=newcomer, profile=None)
    assert not refused
    assert refused.reasons == (
        "You need at least 1,000 followers to earn on Spaces; you have 12.",
        "Add your date of birth to your profile: creators must be 18 or older.",
        "Enrol in Super Follows on your creator page first.",
        "Connect a payout account with Stripe.",
    )
    assert refused.reason == refused.reasons[0]
    ready = make_creator("ready")
    assert selectors.may_sell_tickets(user=ready, profile=selectors.creator_profile_of(user=ready)) is ALLOW


def test_a_minor_is_refused(db):
    seventeen = timezone.localdate() - timedelta(days=17 * 366)
    user = make_creator("teen", born=seventeen, profile={"super_follows_enrolled_at": None})
    assert _enrol_refusal(user) == ["Creators must be 18 or older."]


def test_someone_turning_18_today_is_accepted(db):
    today = timezone.localdate()
    born = date(today.year - 18, today.month, 28 if (today.month, today.day) == (2, 29) else today.day)
    user = make_creator("birthday", born=born, profile={"super_follows_enrolled_at": None})
    assert super_follows.super_follows_enrol(user=user).super_follows_enrolled


def test_an_unfinished_payout_account_is_a_reason(db):
    user = make_creator(
        profile={"super_follows_enrolled_at": None, "details_submitted": False, "charges_enabled": False}
    )
    assert _enrol_refusal(user) == ["Your payout account isn't ready yet: onboarding not finished."]


def test_the_follower_minimum_is_a_setting(db, settings):
    settings.SUPER_FOLLOWS_MIN_FOLLOWERS = 5000
    user = make_creator(followers=4999, profile={"super_follows_enrolled_at": None})
    assert _enrol_refusal(user) == ["You need at least 5,000 followers to earn on Spaces; you have 4,999."]


def test_an_eligible_creator_enrols_once(db):
    user = make_creator(profile={"super_follows_enrolled_at": None})
    first = super_follows.super_follows_enrol(user=user).super_follows_enrolled_at
    again = super_follows.super_follows_enrol(user=user).super_follows_enrolled_at
    assert first is not None
    assert again == first


def test_payout_onboarding_refuses_without_an_audience_and_calls_no_one(db, provider):
    user = make_creator(followers=999, born=date(1990, 1, 1), profile=False)
    with pytest.raises(ValidationError, match="at least 1,000 followers"):
        payouts.payout_onboarding_start(user=user, refresh_url="https://s.test/r", return_url="https://s.test/ok")
    assert provider.requests == []
    assert not CreatorProfile.objects.filter(user=user).exists()


def test_payout_onboarding_creates_the_account_once_and_links_to_stripe(db, provider):
    user = make_creator(profile=False)
    first = payouts.payout_onboarding_start(user=user, refresh_url="https://s.test/r", return_url="https://s.test/ok")
    second = payouts.payout_onboarding_start(user=user, refresh_url="https://s.test/r", return_url="https://s.test/ok")

    profile = CreatorProfile.objects.get(user=user)
    assert len(provider.requests_to("POST", "/v1/accounts")) == 1
    assert provider.requests_to("POST", "/v1/accounts")[0].idempotency_key == f"connect-account-user-{user.pk}"
    assert profile.stripe_account_id in provider.accounts
    assert profile.payout_state == CreatorProfile.PayoutState.ONBOARDING
    assert first.startswith(f"https://s.test/money/test-provider/connect/{profile.stripe_account_id}/")
    assert second != first  # each visit gets a fresh single-use link


def test_coming_back_from_onboarding_reads_the_account_from_stripe(db, provider, django_capture_on_commit_callbacks):
    user = make_creator(profile=False)
    payouts.payout_onboarding_start(user=user, refresh_url="https://s.test/r", return_url="https://s.test/ok")
    account_id = CreatorProfile.objects.get(user=user).stripe_account_id
    provider.account_complete(account_id)

    with django_capture_on_commit_callbacks(execute=True):
        profile = payouts.payout_account_refresh(user=user)

    assert profile.payout_state == CreatorProfile.PayoutState.READY
    assert Notification.objects.filter(recipient=user, text__startswith="Your payout account is ready").count() == 1
    assert super_follows.super_follows_enrol(user=user).super_follows_enrolled
