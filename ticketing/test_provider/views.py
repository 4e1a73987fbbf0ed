"""The test provider over HTTP: its API under `v1/`, the hosted checkout page and the hosted onboarding page."""

from __future__ import annotations

import time

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ticketing.money import format_cents

from . import api, engine, store
from .forms import CardForm


@csrf_exempt
def api_request(request: HttpRequest, path: str) -> HttpResponse:
    """For clients outside this process (a worker pointed here by STRIPE_API_BASE, curl)."""
    status, body = api.handle(
        method=request.method or "GET",
        url=request.get_full_path(),
        headers=dict(request.headers),
        body=request.body,
    )
    return JsonResponse(body, status=status)


def _line(session: store.Obj) -> dict:
    item = session.private["line_items"][0]
    price = item.get("price_data") or {}
    return {
        "name": (price.get("product_data") or {}).get("name", ""),
        "amount": format_cents(session.data["amount_total"]),
        "interval": (price.get("recurring") or {}).get("interval"),
    }


def _locked_session(session_id: str) -> store.Obj:
    session = store.get("checkout.session", session_id)
    if session is None:
        raise Http404("No such checkout.")
    return engine.session_current(session)


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """Stripe Checkout's hosted page: a card form that pays the session or shows why the card was refused."""
    with store.atomic():
        session = _locked_session(session_id)
        context = {"session": session.data, "line": _line(session)}
        if session.data["status"] != "open":
            return render(request, "ticketing/test_provider/checkout_closed.html", context, status=410)
        if request.method == "GET":
            form = CardForm(initial={"email": session.data.get("customer_email") or ""})
            return render(request, "ticketing/test_provider/checkout.html", {**context, "form": form})
        form = CardForm(request.POST)
        paid = False
        if form.is_valid():
            brand, decline = form.charge_outcome()
            if decline:
                form.add_error("number", decline)
            else:
                number = form.cleaned_data["number"]
                engine.session_pay(
                    session=session, email=form.cleaned_data["email"], card_brand=brand, card_last4=number[-4:]
                )
                paid = True
    if paid:
        # The events went out when the change committed: in-process, the endpoint has them by now.
        return HttpResponseRedirect(
            session.data["success_url"].replace("{CHECKOUT_SESSION_ID}", session.id), status=303
        )
    return render(request, "ticketing/test_provider/checkout.html", {**context, "form": form}, status=422)


@require_http_methods(["GET", "POST"])
def onboarding(request: HttpRequest, account_id: str, link_id: str) -> HttpResponse:
    """Connect's hosted onboarding, one click: the account becomes able to take charges and pay out."""
    with store.atomic():
        link = store.get("account_link", link_id)
        if link is None or link.private["account"] != account_id:
            raise Http404("No such onboarding link.")
        if link.private.get("used") or link.data["expires_at"] < time.time():
            # Stripe sends an expired or used link to refresh_url, where the platform makes a new one.
            return HttpResponseRedirect(link.private["refresh_url"])
        account = store.get("account", account_id)
        if request.method == "GET":
            return render(request, "ticketing/test_provider/onboarding.html", {"account": account.data, "link": link})
        link.private["used"] = True
        link.save()
        origin = api.origin_of(link.private["return_url"], "return_url")
        engine.account_onboarding_complete(account=account, origin=origin)
    return HttpResponseRedirect(link.private["return_url"], status=303)
