"""A local stand-in for the part of Stripe's REST API the gateway uses, and Stripe's webhook signing.

The real `stripe` library talks to it over HTTP: requests arrive form-encoded exactly as Stripe
would receive them, answers are JSON shaped like Stripe's objects, and every request is recorded
so tests can assert what was sent (amounts, fees, destinations, idempotency keys).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl


def sign_webhook(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header value made with Stripe's scheme: HMAC-SHA256 over "t.body"."""
    body = payload.decode() if isinstance(payload, bytes) else payload
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's bracketed form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        return [converted[k] for k in sorted(converted, key=int)]
    return converted


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    params: dict[str, Any]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


@dataclass
class FakeStripe:
    """State of the fake: accounts by id, sessions by id, refunds, and every request received."""

    requests: list[RecordedRequest] = field(default_factory=list)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_next: list[tuple[int, str]] = field(default_factory=list)
    # One-shot refusals for a given path, e.g. {"/v1/account_links": (400, "...")}.
    fail_path: dict[str, tuple[int, str]] = field(default_factory=dict)
    _replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def handle(self, method: str, path: str, headers: dict[str, str], params: dict[str, Any]) -> tuple[int, dict]:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, params))
            key = headers.get("idempotency-key")
            if method == "POST" and key and key in self._replies:
                return self._replies[key]
            if self.fail_next:
                status, message = self.fail_next.pop(0)
                return status, _error(message)
            if path in self.fail_path:
                status, message = self.fail_path.pop(path)
                return status, _error(message)
            status, body = self._route(method, path, params)
            if method == "POST" and key and status < 500:
                self._replies[key] = (status, body)
            return status, body

    def _route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, dict]:
        if method == "POST" and path == "/v1/accounts":
            return 200, self._account_create(params)
        match = re.fullmatch(r"/v1/accounts/([\w]+)", path)
        if method == "GET" and match:
            account = self.accounts.get(match.group(1))
            return (200, account) if account else (404, _error(f"No such account: '{match.group(1)}'"))
        if method == "POST" and path == "/v1/account_links":
            if params.get("account") not in self.accounts:
                return 400, _error(f"No such account: '{params.get('account')}'", param="account")
            return 200, {
                "object": "account_link",
                "created": int(time.time()),
                "expires_at": int(time.time()) + 300,
                "url": f"https://connect.stripe.test/setup/e/{params['account']}/{self.new_id('link')}",
            }
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._session_create(params)
        match = re.fullmatch(r"/v1/checkout/sessions/([\w]+)(/expire)?", path)
        if match:
            session = self.sessions.get(match.group(1))
            if session is None:
                return 404, _error(f"No such checkout.session: '{match.group(1)}'")
            if method == "GET" and not match.group(2):
                return 200, session
            if method == "POST" and match.group(2):
                if session["status"] != "open":
                    return 400, _error(
                        f'Only Checkout Sessions with a status in ["open"] can be expired, not {session["status"]}.'
                    )
                session["status"] = "expired"
                return 200, session
        if method == "POST" and path == "/v1/refunds":
            return self._refund_create(params)
        match = re.fullmatch(r"/v1/subscriptions/([\w]+)", path)
        if match and method in ("POST", "DELETE"):
            subscription = self.subscriptions.get(match.group(1))
            if subscription is None:
                return 404, _error(f"No such subscription: '{match.group(1)}'")
            if method == "DELETE":
                subscription["status"] = "canceled"
            elif params.get("cancel_at_period_end") == "true":
                subscription["cancel_at_period_end"] = True
            return 200, subscription
        return 404, _error(f"Unrecognized request URL ({method}: {path}).")

    def session_complete(self, session_id: str) -> dict[str, Any]:
        """The buyer paid on Stripe's page: the session as `checkout.session.completed` carries it."""
        with self._lock:
            session = self.sessions[session_id]
            if session["status"] != "open":
                raise ValueError(f"{session_id} is {session['status']}, it can't be paid")
            session.update(status="complete", payment_status="paid", payment_intent=self.new_id("pi"))
            return dict(session)

    def _account_create(self, params: dict[str, Any]) -> dict[str, Any]:
        account = {
            "id": self.new_id("acct"),
            "object": "account",
            "controller": params.get("controller", {}),
            "email": params.get("email"),
            "metadata": params.get("metadata", {}),
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "requirements": {"currently_due": ["external_account", "tos_acceptance.date"]},
        }
        self.accounts[account["id"]] = account
        return account

    def _session_create(self, params: dict[str, Any]) -> tuple[int, dict]:
        mode = params.get("mode")
        item = (params.get("line_items") or [{}])[0]
        amount = int(item.get("price_data", {}).get("unit_amount", 0)) * int(item.get("quantity", 1))
        if mode == "payment":
            fee = int(params.get("payment_intent_data", {}).get("application_fee_amount", 0))
            if fee > amount:
                return 400, _error("The application fee can't exceed the amount.", param="application_fee_amount")
        elif mode != "subscription":
            return 400, _error(f"Invalid mode: {mode}", param="mode")
        session_id = self.new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "amount_total": amount,
            "currency": item.get("price_data", {}).get("currency"),
            "expires_at": int(params["expires_at"]) if "expires_at" in params else int(time.time()) + 86400,
            "metadata": params.get("metadata", {}),
            "success_url": params.get("success_url"),
            "url": f"https://checkout.stripe.test/c/pay/{session_id}",
        }
        self.sessions[session_id] = session
        return 200, session

    def _refund_create(self, params: dict[str, Any]) -> tuple[int, dict]:
        intent = params.get("payment_intent")
        if any(r["payment_intent"] == intent for r in self.refunds.values()):
            return 400, _error("Charge has already been refunded.", code="charge_already_refunded")
        refund = {
            "id": self.new_id("re"),
            "object": "refund",
            "payment_intent": intent,
            "status": "succeeded",
            "metadata": params.get("metadata", {}),
        }
        self.refunds[refund["id"]] = refund
        return 200, refund


def _error(message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if param:
        error["param"] = param
    if code:
        error["code"] = code
    return {"error": error}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        params = decode_form(raw if self.command == "POST" else query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if not headers.get("authorization", "").startswith("Bearer sk_"):
            status, body = 401, _error("Invalid API Key provided.")
        else:
            status, body = self.fake.handle(self.command, path, headers, params)
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_{id(body)}")
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        return


class FakeStripeServer:
    """Runs a FakeStripe on 127.0.0.1 in a background thread; use as a context manager."""

    def __init__(self) -> None:
        self.fake = FakeStripe()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.fake.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeStripe:
        self._thread.start()
        return self.fake

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
