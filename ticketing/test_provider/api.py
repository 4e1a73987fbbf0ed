"""Stripe's REST API as far as `ticketing.stripe_gateway` uses it: routing, errors, idempotency, the request log.

Requests arrive as the `stripe` library sends them (form-encoded bodies, `Idempotency-Key`,
`Authorization: Bearer sk_test_...`); answers are Stripe-shaped JSON objects and errors.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.urls import reverse

from . import engine, store


class ApiError(Exception):
    """A refusal answered as Stripe's error body: `{"error": {"type", "message", "code", "param"}}`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": kind, "message": message}}
        if code:
            self.body["error"]["code"] = code
        if param:
            self.body["error"]["param"] = param


@dataclass
class Faults:
    """Refusals queued by hand in this process, to exercise how callers handle Stripe's errors.

    `next` answers the next requests with (status, message) in order; `path` answers the next
    request to one path once.
    """

    next: list[tuple[int, str]] = field(default_factory=list)
    path: dict[str, tuple[int, str]] = field(default_factory=dict)

    def reset(self) -> None:
        self.next.clear()
        self.path.clear()

    def take(self, path: str) -> tuple[int, str] | None:
        if self.next:
            return self.next.pop(0)
        return self.path.pop(path, None)


faults = Faults()


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node = root
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ApiError(400, f"Invalid value for {key}.", param=key)
            node = child
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


def handle(*, method: str, url: str, headers: dict[str, str], body: str | bytes | None) -> tuple[int, dict[str, Any]]:
    """Answer one API request: (HTTP status, JSON body). `url` may be absolute; only its `/v1/...` part counts."""
    method = method.upper()
    parts = urlsplit(url)
    path = parts.path[parts.path.find("/v1/") :] if "/v1/" in parts.path else parts.path
    raw = body.decode() if isinstance(body, bytes) else (body or "")
    headers = {k.lower(): v for k, v in headers.items()}
    key = headers.get("idempotency-key", "")
    try:
        params = decode_form(raw if method == "POST" else parts.query)
    except ApiError as exc:
        return exc.status, exc.body
    auth = headers.get("authorization", "")
    if not auth.startswith("Bearer sk_test_"):
        message = (
            "Invalid API Key provided." if not auth.startswith("Bearer sk_live_") else "Test mode takes test keys."
        )
        return 401, ApiError(401, message).body
    with store.atomic():
        replay = store.request_replay(key) if method == "POST" and key else None
        fault = faults.take(path) if replay is None else None
        if replay is not None:
            status, body_out = replay
        elif fault is not None:
            status, message = fault
            body_out = ApiError(status, message, kind="api_error" if status >= 500 else "invalid_request_error").body
        else:
            try:
                with store.atomic():
                    status, body_out = 200, _route(method, path, params)
            except ApiError as exc:
                status, body_out = exc.status, exc.body
        # Like Stripe, only answers from requests that ran are kept for the key (not injected faults).
        store.request_log(
            method=method,
            path=path,
            params=params,
            key=key,
            status=status,
            response=body_out,
            replayable=fault is None and status < 500,
        )
    return status, body_out


_Route = Callable[..., dict[str, Any]]
_ROUTES: list[tuple[str, re.Pattern[str], _Route]] = []


def _route_to(method: str, pattern: str) -> Callable[[_Route], _Route]:
    def register(view: _Route) -> _Route:
        _ROUTES.append((method, re.compile(pattern), view))
        return view

    return register


def _route(method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
    for route_method, pattern, view in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return view(params, *match.groups())
    raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")


def _get(kind: str, object_id: str, *, param: str | None = None) -> store.Obj:
    found = store.get(kind, object_id)
    if found is None:
        status = 400 if param else 404
        raise ApiError(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)
    return found


def _int(params: dict[str, Any], name: str, value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"Invalid integer: {value}", param=name) from None


def origin_of(url: Any, param: str) -> str:
    """The site a hosted page belongs to: the one the customer comes back to."""
    parts = urlsplit(str(url or ""))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiError(400, f"Not a valid URL: {url!r}", param=param)
    return f"{parts.scheme}://{parts.netloc}"


# --- Connect ------------------------------------------------------------------------------------


@_route_to("POST", r"/v1/accounts")
def _account_create(params: dict[str, Any]) -> dict[str, Any]:
    return engine.account_create(
        email=params.get("email"), controller=params.get("controller") or {}, metadata=params.get("metadata") or {}
    ).data


@_route_to("GET", r"/v1/accounts/(\w+)")
def _account_retrieve(params: dict[str, Any], account_id: str) -> dict[str, Any]:
    return _get("account", account_id).data


@_route_to("POST", r"/v1/account_links")
def _account_link_create(params: dict[str, Any]) -> dict[str, Any]:
    account = _get("account", str(params.get("account")), param="account")
    for name in ("refresh_url", "return_url"):
        origin_of(params.get(name), name)
    if params.get("type") not in ("account_onboarding", "account_update"):
        raise ApiError(400, f"Invalid type: {params.get('type')}", param="type")
    link_id = engine.new_id("link")
    origin = origin_of(params["return_url"], "return_url")
    url = origin + reverse(
        "ticketing:stripe_test_provider:onboarding", kwargs={"account_id": account.id, "link_id": link_id}
    )
    data = {
        "object": "account_link",
        "created": int(time.time()),
        "expires_at": int(time.time()) + 300,
        "url": url,
    }
    store.create(
        "account_link",
        {"id": link_id, **data},
        {"account": account.id, "refresh_url": params["refresh_url"], "return_url": params["return_url"]},
    )
    return data


# --- Checkout -----------------------------------------------------------------------------------


@_route_to("POST", r"/v1/checkout/sessions")
def _session_create(params: dict[str, Any]) -> dict[str, Any]:
    mode = params.get("mode")
    if mode not in ("payment", "subscription"):
        raise ApiError(400, f"Invalid mode: {mode}", param="mode")
    items = params.get("line_items")
    if not isinstance(items, list) or not items:
        raise ApiError(400, "line_items is required.", param="line_items")
    amount = 0
    for index, item in enumerate(items):
        price = item.get("price_data") or {}
        if not price.get("unit_amount") or not (price.get("product_data") or {}).get("name"):
            raise ApiError(
                400, "Each line item needs price_data with unit_amount and a product name.", param="line_items"
            )
        amount += _int(params, f"line_items[{index}][price_data][unit_amount]", price["unit_amount"]) * _int(
            params, f"line_items[{index}][quantity]", item.get("quantity", 1)
        )
    if amount <= 0:
        raise ApiError(400, "The amount must be positive.", param="line_items")
    if mode == "payment":
        data = params.get("payment_intent_data") or {}
        fee = _int(params, "application_fee_amount", data.get("application_fee_amount", 0))
        if fee > amount:
            raise ApiError(400, "The application fee can't exceed the amount.", param="application_fee_amount")
        destination = (data.get("transfer_data") or {}).get("destination")
    else:
        data = params.get("subscription_data") or {}
        if any("recurring" not in (item.get("price_data") or {}) for item in items):
            raise ApiError(400, "A subscription needs recurring prices.", param="line_items")
        destination = (data.get("transfer_data") or {}).get("destination")
    if destination:
        account = _get("account", destination, param="transfer_data[destination]")
        if not account.data.get("charges_enabled"):
            raise ApiError(
                400,
                f"The destination account {destination} can't take charges until its onboarding is complete.",
                param="transfer_data[destination]",
            )
    expires_at = _int(params, "expires_at", params["expires_at"]) if "expires_at" in params else None
    return engine.session_create(
        params=params,
        amount=amount,
        expires_at=expires_at,
        origin=origin_of(params.get("success_url"), "success_url"),
    ).data


@_route_to("GET", r"/v1/checkout/sessions/(\w+)")
def _session_retrieve(params: dict[str, Any], session_id: str) -> dict[str, Any]:
    return engine.session_current(_get("checkout.session", session_id)).data


@_route_to("POST", r"/v1/checkout/sessions/(\w+)/expire")
def _session_expire(params: dict[str, Any], session_id: str) -> dict[str, Any]:
    session = engine.session_current(_get("checkout.session", session_id))
    if session.data["status"] != "open":
        raise ApiError(
            400, f'Only Checkout Sessions with a status in ["open"] can be expired, not {session.data["status"]}.'
        )
    return engine.session_expire(session).data


# --- Refunds and subscriptions -------------------------------------------------------------------


@_route_to("POST", r"/v1/refunds")
def _refund_create(params: dict[str, Any]) -> dict[str, Any]:
    intent_id = params.get("payment_intent")
    if not intent_id:
        raise ApiError(400, "One of charge or payment_intent is required.", param="payment_intent")
    intent = _get("payment_intent", str(intent_id), param="payment_intent")
    charge = _get("charge", intent.data["latest_charge"])
    if charge.data.get("refunded"):
        raise ApiError(400, f"Charge {charge.id} has already been refunded.", code="charge_already_refunded")
    return engine.refund_create(intent=intent, charge=charge, metadata=params.get("metadata") or {}).data


@_route_to("GET", r"/v1/subscriptions/(\w+)")
def _subscription_retrieve(params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    return _get("subscription", subscription_id).data


@_route_to("POST", r"/v1/subscriptions/(\w+)")
def _subscription_update(params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    subscription = _get("subscription", subscription_id)
    if subscription.data["status"] == "canceled":
        raise ApiError(400, "A canceled subscription can only update its metadata.")
    if "cancel_at_period_end" in params:
        subscription.data["cancel_at_period_end"] = params["cancel_at_period_end"] == "true"
    return engine.subscription_changed(subscription, "customer.subscription.updated").data


@_route_to("DELETE", r"/v1/subscriptions/(\w+)")
def _subscription_cancel(params: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    subscription = _get("subscription", subscription_id)
    if subscription.data["status"] != "canceled":
        now = int(time.time())
        subscription.data.update(status="canceled", canceled_at=now, ended_at=now)
        engine.subscription_changed(subscription, "customer.subscription.deleted")
    return subscription.data
