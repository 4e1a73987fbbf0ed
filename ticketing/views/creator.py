"""The creator's page and the Stripe-hosted payout onboarding it starts."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from spaces_site.http import error_text
from ticketing import dashboard, payouts, selectors
from ticketing.forms import PlanForm
from ticketing.stripe_gateway import PaymentProviderError


def creator_page(request: HttpRequest, *, form: PlanForm | None = None, status: int = 200) -> HttpResponse:
    page = selectors.creator_page_for(user=request.user)
    # The ledger keeps a refunded ticket's sale: what the creator earns is shown with its refunds taken off, as on
    # the dashboard.
    refunds = earned = None
    if page.summary is not None:
        refunds = dashboard.refunds_of(creator=request.user)
        earned = dashboard.after_refunds(page.summary.total, refunds)
    context = {"page": page, "refunds": refunds, "earned": earned, "form": form or PlanForm()}
    return render(request, "ticketing/creator.html", context, status=status)


@login_required
@require_GET
def creator_home(request: HttpRequest) -> HttpResponse:
    return creator_page(request)


def _onboarding_redirect(request: HttpRequest) -> HttpResponse:
    try:
        url = payouts.payout_onboarding_start(
            user=request.user,
            refresh_url=request.build_absolute_uri(reverse("ticketing:payout_refresh")),
            return_url=request.build_absolute_uri(reverse("ticketing:payout_return")),
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("ticketing:creator")
    except PaymentProviderError as exc:
        messages.error(request, str(exc))
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
        profile = payouts.payout_account_refresh(user=request.user)
    except PaymentProviderError as exc:
        messages.error(request, str(exc))
    else:
        if profile is not None and profile.stripe_account_id:
            messages.info(request, f"Payout account: {profile.payout_state_label}.")
    return redirect("ticketing:creator")
