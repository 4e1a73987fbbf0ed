"""Super Follows pages: a creator's enrolment and plans, subscribing, and a subscriber's cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from spaces_site.http import error_text
from ticketing import selectors, super_follows
from ticketing.forms import PlanForm
from ticketing.models import SuperFollowPlan

from .creator import creator_page


@login_required
@require_POST
def enrol(request: HttpRequest) -> HttpResponse:
    try:
        super_follows.super_follows_enrol(user=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return creator_page(request, status=422)
    messages.success(request, "You're enrolled in Super Follows. Add a plan so people can subscribe.")
    return redirect("ticketing:creator")


@login_required
@require_POST
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if form.is_valid():
        try:
            plan = super_follows.super_follow_plan_create(
                creator=request.user, price_cents=form.cleaned_data["price_cents"]
            )
        except ValidationError as exc:
            form.add_error("price_cents", exc)
        else:
            messages.success(request, f"Your {plan.price_display} plan is on offer.")
            return redirect("ticketing:creator")
    return creator_page(request, form=form, status=422)


@login_required
@require_POST
def plan_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(SuperFollowPlan, pk=pk, creator=request.user)
    super_follows.super_follow_plan_set_active(plan=plan, by=request.user, active=not plan.active)
    messages.success(request, f"{plan.price_display} plan {'offered' if plan.active else 'withdrawn'}.")
    return redirect("ticketing:creator")


@login_required
@require_POST
def subscribe(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(SuperFollowPlan.objects.select_related("creator"), pk=pk)
    done = request.build_absolute_uri(reverse("ticketing:subscribe_done"))
    try:
        _, url = super_follows.super_follow_checkout_start(
            plan=plan,
            subscriber=request.user,
            # Stripe fills in the placeholder; it must reach Stripe unescaped.
            success_url=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(plan.creator.get_absolute_url()),
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect(plan.creator)
    return HttpResponseRedirect(url, status=303)


@login_required
@require_GET
def subscribe_done(request: HttpRequest) -> HttpResponse:
    """Only shows where the Super Follow stands; it is activated by Stripe's webhook, never here."""
    subscription = selectors.super_follow_for_checkout(
        subscriber=request.user, session_id=request.GET.get("session_id", "")
    )
    if subscription is None:
        return render(request, "ticketing/subscribe_done.html", {"subscription": None}, status=404)
    return render(request, "ticketing/subscribe_done.html", {"subscription": subscription})


@login_required
@require_POST
def super_follow_cancel(request: HttpRequest, username: str) -> HttpResponse:
    subscription = get_object_or_404(
        selectors.live_super_follows_of(subscriber=request.user), creator__username=username
    )
    try:
        super_follows.super_follow_cancel(subscription=subscription, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, f"Your Super Follow of @{username} ends with the month you paid for.")
    return redirect(subscription.creator)
