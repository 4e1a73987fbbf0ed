"""Super Follows plans: only the allowed prices, only for enrolled creators, only by their owner."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from tests.ticketing.factories import make_creator
from ticketing import super_follows
from ticketing.models import SuperFollowPlan


@pytest.mark.parametrize("price", [0, 1, 300, 998, 1000, -299])
def test_a_price_outside_the_plan_set_is_refused(creator, price):
    with pytest.raises(ValidationError, match=r"costs \$2\.99, \$4\.99 or \$9\.99 a month"):
        super_follows.super_follow_plan_create(creator=creator, price_cents=price)
    assert not SuperFollowPlan.objects.exists()


@pytest.mark.parametrize("price", [299, 499, 999])
def test_each_allowed_price_can_be_offered(creator, price):
    plan = super_follows.super_follow_plan_create(creator=creator, price_cents=price)
    assert (plan.creator, plan.price_cents, plan.active) == (creator, price, True)


def test_plans_need_enrolment_first(db):
    user = make_creator(profile={"super_follows_enrolled_at": None})
    with pytest.raises(ValidationError, match="Enrol in Super Follows"):
        super_follows.super_follow_plan_create(creator=user, price_cents=499)
    assert not SuperFollowPlan.objects.exists()


def test_the_same_price_twice_is_refused_and_a_withdrawn_plan_comes_back(creator):
    plan = super_follows.super_follow_plan_create(creator=creator, price_cents=499)
    with pytest.raises(ValidationError, match=r"already offer a \$4\.99 plan"):
        super_follows.super_follow_plan_create(creator=creator, price_cents=499)

    super_follows.super_follow_plan_set_active(plan=plan, by=creator, active=False)
    again = super_follows.super_follow_plan_create(creator=creator, price_cents=499)
    assert again.pk == plan.pk
    assert again.active
    assert SuperFollowPlan.objects.count() == 1


def test_only_the_creator_changes_a_plan(plan, alice):
    with pytest.raises(PermissionDenied):
        super_follows.super_follow_plan_set_active(plan=plan, by=alice, active=False)
    plan.refresh_from_db()
    assert plan.active


def test_the_plan_form_shows_a_field_error_for_a_price_not_offered(client, creator):
    client.force_login(creator)
    response = client.post(reverse("ticketing:plan_create"), {"price_cents": "1000"})
    assert response.status_code == 422
    assert "Choose one of the offered monthly prices." in response.content.decode()
    assert not SuperFollowPlan.objects.exists()


def test_the_plan_form_adds_a_plan(client, creator):
    client.force_login(creator)
    response = client.post(reverse("ticketing:plan_create"), {"price_cents": "999"})
    assert response.status_code == 302
    assert SuperFollowPlan.objects.get().price_cents == 999
    page = client.get(reverse("ticketing:creator")).content.decode()
    assert "$9.99 a month · on offer" in page


def test_someone_elses_plan_toggle_is_not_found(client, plan, alice):
    client.force_login(alice)
    assert client.post(reverse("ticketing:plan_toggle", args=[plan.pk])).status_code == 404
    plan.refresh_from_db()
    assert plan.active
