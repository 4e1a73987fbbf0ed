"""The creator's sales dashboard, one Space's figures, and the ledger as CSV."""

from __future__ import annotations

import csv

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ticketing import dashboard, selectors
from ticketing.money import decimal_text


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


@login_required
@require_GET
def sales_csv(request: HttpRequest) -> HttpResponse:
    """Every ledger line of the signed-in creator, amounts in dollars; a refunded ticket's line says when."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="spaces-sales.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["date", "kind", "space_id", "space", "buyer", "gross", "platform_fee", "net", "stripe_reference", "refunded"]
    )
    for sale in selectors.sales_ledger_for(creator=request.user):
        writer.writerow(
            [
                sale.created_at.isoformat(),
                sale.kind,
                sale.space_id or "",
                sale.space.title if sale.space else "",
                sale.buyer.username if sale.buyer else "",
                decimal_text(sale.gross_cents),
                decimal_text(sale.platform_fee_cents),
                decimal_text(sale.creator_net_cents),
                sale.stripe_reference,
                sale.refunded_at.isoformat() if sale.refunded_at else "",
            ]
        )
    return response
