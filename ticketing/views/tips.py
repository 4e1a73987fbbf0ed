"""The tip form and where a tip stands after Stripe's Checkout."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from rooms.models import Space
from ticketing import selectors, tips
from ticketing.forms import TipForm


def _tip_page(request: HttpRequest, space: Space, form: TipForm, *, status: int = 200) -> HttpResponse:
    refusal = selectors.may_tip(space=space, tipper=request.user).reason
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
