"""Pages for Ticketed Spaces: selling, the ticket page with its Buy button, checkout status, refunds."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from rooms.models import Space
from spaces_site.http import error_text
from ticketing import selectors, tickets
from ticketing.forms import TicketOfferForm
from ticketing.models import Ticket, TicketOffer


def _space(space_id: int) -> Space:
    return get_object_or_404(Space.objects.select_related("host"), pk=space_id)


def _page(request: HttpRequest, space: Space, *, form: TicketOfferForm | None = None, status: int = 200):
    page = selectors.ticket_page_for(space=space, viewer=request.user)
    context = {"page": page, "form": form or TicketOfferForm()}
    return render(request, "ticketing/space_tickets.html", context, status=status)


@login_required
@require_GET
def space_tickets(request: HttpRequest, space_id: int) -> HttpResponse:
    space = _space(space_id)
    offer = TicketOffer.objects.filter(space=space).first()
    if offer is None and space.host_id != request.user.pk:
        raise Http404("This Space doesn't sell tickets.")
    if offer is not None:
        tickets.ticket_offer_page_viewed(offer=offer, viewer=request.user)
    return _page(request, space)


@login_required
@require_POST
def offer_create(request: HttpRequest, space_id: int) -> HttpResponse:
    space = _space(space_id)
    if space.host_id != request.user.pk:
        raise PermissionDenied("Only the host can sell tickets for this Space.")
    form = TicketOfferForm(request.POST)
    if form.is_valid():
        try:
            offer = tickets.ticket_offer_create(
                space=space,
                by=request.user,
                price_cents=form.cleaned_data["price"],
                quantity=form.cleaned_data["quantity"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{offer.quantity} tickets at {offer.price_display} are on sale.")
            return redirect("ticketing:space_tickets", space_id=space.pk)
    return _page(request, space, form=form, status=422)


@login_required
@require_POST
def buy(request: HttpRequest, space_id: int) -> HttpResponse:
    offer = get_object_or_404(TicketOffer.objects.select_related("space__host"), space_id=space_id)
    page_url = request.build_absolute_uri(reverse("ticketing:space_tickets", kwargs={"space_id": space_id}))
    done = request.build_absolute_uri(reverse("ticketing:ticket_done"))
    try:
        hold = tickets.ticket_purchase_start(
            offer=offer,
            buyer=request.user,
            # Stripe fills in the placeholder; it must reach Stripe unescaped.
            success_url=f"{done}?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=page_url,
        )
    except ValidationError as exc:
        messages.error(request, error_text(exc))
        return redirect("ticketing:space_tickets", space_id=space_id)
    return HttpResponseRedirect(hold.checkout_url, status=303)


@login_required
@require_GET
def purchase_done(request: HttpRequest) -> HttpResponse:
    """Only shows where the purchase stands: the ticket is issued by Stripe's webhook, never here."""
    hold = selectors.seat_hold_for_buyer(buyer=request.user, session_id=request.GET.get("session_id", ""))
    return render(request, "ticketing/ticket_done.html", {"hold": hold}, status=200 if hold else 404)


@login_required
@require_POST
def refund_request(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = get_object_or_404(Ticket.objects.select_related("offer"), pk=pk, buyer=request.user)
    try:
        tickets.ticket_refund_request(ticket=ticket, by=request.user)
    except ValidationError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, "Your refund is on its way; this page shows when it is done.")
    return redirect("ticketing:space_tickets", space_id=ticket.offer.space_id)
