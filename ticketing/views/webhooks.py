"""The endpoint Stripe posts its events to."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ticketing import webhooks

logger = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """Verified, stored and acknowledged at once; the work happens in a task."""
    try:
        event, first_time = webhooks.stripe_webhook_receive(
            payload=request.body, signature_header=request.headers.get("Stripe-Signature")
        )
    except webhooks.WebhookRejected as exc:
        logger.warning("Stripe webhook rejected: %s", exc)
        return JsonResponse(
            {"error": "Rejected: the signature is missing, forged or too old, or the body is not an event."}, status=400
        )
    return JsonResponse({"received": event.event_id, "duplicate": not first_time})
