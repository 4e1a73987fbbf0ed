"""Forms for the money side; each bad value comes back as a field error."""

from __future__ import annotations

from django import forms
from django.conf import settings


def _price_choices() -> list[tuple[int, str]]:
    return [(cents, f"${cents / 100:.2f} a month") for cents in settings.SUPER_FOLLOWS_PRICES_CENTS]


class PlanForm(forms.Form):
    price_cents = forms.TypedChoiceField(
        label="Monthly price",
        coerce=int,
        choices=_price_choices,
        error_messages={"invalid_choice": "Choose one of the offered monthly prices."},
    )
