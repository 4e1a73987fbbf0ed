"""An HTTP client for the `stripe` library that hands each request to the test provider in this process.

The library builds every request as it would for api.stripe.com (URL, form body, headers,
idempotency key) and parses every answer; only the socket is skipped. A view that calls Stripe
therefore never waits on its own server for the answer (under an ASGI server all sync views share
one thread, so a loop-back HTTP call from one would wait forever).
Chosen by the `STRIPE_HTTP_CLIENT` setting.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from stripe import HTTPClient


class InProcessHTTPClient(HTTPClient):
    name = "spaces-test-provider"

    def request(
        self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None
    ) -> tuple[str, int, Mapping[str, str]]:
        from . import api

        status, body = api.handle(method=method, url=url, headers=dict(headers or {}), body=post_data)
        return (
            json.dumps(body),
            status,
            {"Request-Id": f"req_{uuid.uuid4().hex[:14]}", "Content-Type": "application/json"},
        )

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None, post_data: Any = None):
        raise NotImplementedError("The test provider answers no streaming endpoints.")

    def close(self) -> None:
        return None
