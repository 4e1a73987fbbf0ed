"""Pages for creators and subscribers, and the endpoint Stripe posts its events to."""

from __future__ import annotations

import csv
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rooms.models import Space

from . import dashboard, selectors, services, tips
from .forms import PlanForm, TipForm
from .models import SuperFollowPlan
from .stripe_gateway import PaymentProviderError

logger = logging.getLogger(__name__)


def _error_text(exc: ValidationError) -> str:
    return " ".join(exc.messages)


def _creator_page(request: HttpRequest, *, form: PlanForm | None = None, status: int = 200) -> HttpResponse:
    page = selectors.creator_page_for(user=request.user)
    return render(request, "ticketing/creator.html", {"page": page, "form": form or PlanForm()}, status=status)


@login_required
@require_GET
def creator_home(request: HttpRequest) -> HttpResponse:
    return _creator_page(request)


def _onboarding_redirect(request: HttpRequest) -> HttpResponse:
    try:
        url = services.payout_onboarding_start(
            user=request.user,
            refresh_url=request.build_absolute_uri(reverse("ticketing:payout_refresh")),
            return_url=request.build_absolute_uri(reverse("ticketing:payout_return")),
        )
    except (ValidationError, PaymentProviderError) as exc:
        text = _error_text(exc) if isinstance(exc, ValidationError) else str(exc)
        messages.error(request, text)
        return redirect("ticketing:creator")
    return HttpResponseRedirect(url, status=303)


@login_required
@require_POST
def payout_start(request: HttpRequest) -> HttpResponse:
    return _onboarding_redirect(request)


@login_required
@require_GET
def payout_refresh(request: HttpRequest) -> HttpResponse:
    """Stripe sends the creator here when an onboarding link expired: hand out a fresh one."""
    return _onboarding_redirect(request)


@login_required
@require_GET
def payout_return(request: HttpRequest) -> HttpResponse:
    try:
        profile = services.payout_account_refresh(user=request.user)
    except PaymentProviderError as exc:
        messages.error(request, str(exc))
    else:
        if profile is not None and profile.stripe_account_id:
            messages.info(request, f"Payout account: {profile.payout_state_label}.")
    return redirect("ticketing:creator")


@login_required
@require_POST
def enrol(request: HttpRequest) -> HttpResponse:
    try:
        services.super_follows_enrol(user=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
        return _creator_page(request, status=422)
    messages.success(request, "You're enrolled in Super Follows. Add a plan so people can subscribe.")
    return redirect("ticketing:creator")


@login_required
@require_POST
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if form.is_valid():
        try:
            plan = services.super_follow_plan_create(creator=request.user, price_cents=form.cleaned_data["price_cents"])
        except ValidationError as exc:
            form.add_error("price_cents", exc)
        else:
            messages.success(request, f"Your {plan.price_display} plan is on offer.")
            return redirect("ticketing:creator")
    return _creator_page(request, form=form, status=422)


@login_required
@require_POST
def plan_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(SuperFollowPlan, pk=pk, creator=request.user)
    services.super_follow_plan_set_active(plan=plan, by=request.user, active=not plan.active)
    messages.success(request, f"{plan.price_display} plan {'offered' if plan.active else 'withdrawn'}.")
    return redirect("ticketing:creator")


@login_required
@require_POST
def subscribe(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(SuperFollowPlan.objects.select_related("creator"), pk=pk)
    done = request.build_absolute_uri(reverse("ticketing:subscribe_done"))
    try:
        _, url = services.super_follow_checkout_start(
            plan=plan,
            subscriber=request.user,
            # Stripe fills in the placeholder; it must reach Stripe unescaped.
            success_url=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=request.build_absolute_uri(plan.creator.get_absolute_url()),
        )
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
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
@require_GET
def sales_csv(request: HttpRequest) -> HttpResponse:
    """Every ledger line of the signed-in creator, amounts in dollars; refunds are on the dashboard."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="spaces-sales.csv"'
    writer = csv.writer(response)
    writer.writerow(["date", "kind", "space_id", "space", "buyer", "gross", "platform_fee", "net", "stripe_reference"])
    for sale in selectors.sales_ledger_for(creator=request.user):
        writer.writerow(
            [
                sale.created_at.isoformat(),
                sale.kind,
                sale.space_id or "",
                sale.space.title if sale.space else "",
                sale.buyer.username if sale.buyer else "",
                f"{sale.gross_cents / 100:.2f}",
                f"{sale.platform_fee_cents / 100:.2f}",
                f"{sale.creator_net_cents / 100:.2f}",
                sale.stripe_reference,
            ]
        )
    return response


@login_required
@require_POST
def super_follow_cancel(request: HttpRequest, username: str) -> HttpResponse:
    subscription = get_object_or_404(
        selectors.live_super_follows_of(subscriber=request.user), creator__username=username
    )
    try:
        services.super_follow_cancel(subscription=subscription, by=request.user)
    except ValidationError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, f"Your Super Follow of @{username} ends with the month you paid for.")
    return redirect(subscription.creator)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verified, stored and acknowledged at once; the work happens in a task."""
    try:
        event, first_time = services.stripe_webhook_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature")
        )
    except services.WebhookRejected as exc:
        logger.warning("Stripe webhook rejected: %s", exc)
        return JsonResponse(
            {"error": "Rejected: the signature is missing, forged or too old, or the body is not an event."}, status=400
        )
    return JsonResponse({"received": event.event_id, "duplicate": not first_time})


# --- Tips ------------------------------------------------------------------------------------------


def _tip_page(request: HttpRequest, space: Space, form: TipForm, *, status: int = 200) -> HttpResponse:
    refusal = selectors.tip_refusal_for(space=space, tipper=request.user)
    return render(request, "ticketing/tip.html", {"space": space, "form": form, "refusal": refusal}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def tip(request: HttpRequest, pk: int) -> HttpResponse:
    """The tip form (also shown on the room page); a valid tip goes on to Stripe's Checkout."""
    space = get_object_or_404(Space.objects.select_related("host"), pk=pk)
    if request.method != "POST":
        return _tip_page(request, space, TipForm())
    form = TipForm(request.POST)
    if form.is_valid():
        done = request.build_absolute_uri(reverse("ticketing:tip_done"))
        try:
            _, url = tips.tip_start(
                space=space,
                tipper=request.user,
                amount_cents=form.cleaned_data["amount"],
                announce=form.cleaned_data["announce"],
                # Stripe fills in the placeholder; it must reach Stripe unescaped.
                success_url=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
                # Checkout runs in a tab of its own: cancelling leaves it on the tip form, not a second room.
                cancel_url=request.build_absolute_uri(reverse("ticketing:tip", kwargs={"pk": space.pk})),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return HttpResponseRedirect(url, status=303)
    return _tip_page(request, space, form, status=422)


@login_required
@require_GET
def tip_done(request: HttpRequest) -> HttpResponse:
    """Only shows where the tip stands; it is marked paid by Stripe's webhook, never here."""
    found = selectors.tip_for_checkout(tipper=request.user, session_id=request.GET.get("session_id", ""))
    return render(request, "ticketing/tip_done.html", {"tip": found}, status=200 if found else 404)


# --- Dashboard -------------------------------------------------------------------------------------


@login_required
@require_GET
def dashboard_home(request: HttpRequest) -> HttpResponse:
    return render(request, "ticketing/dashboard.html", {"dashboard": dashboard.dashboard_for(creator=request.user)})


@login_required
@require_GET
def dashboard_space(request: HttpRequest, pk: int) -> HttpResponse:
    """One of the creator's Spaces: its figures, every ticket with its refund's state, every tip."""
    detail = dashboard.space_detail_for(creator=request.user, space_pk=pk)
    if detail is None:
        raise Http404("You have no sales for this Space.")
    return render(request, "ticketing/dashboard_space.html", {"detail": detail})
