"""Forms for the money side; each bad value comes back as a field error."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .tips import tip_amount_error, tip_range_text


def _price_choices() -> list[tuple[int, str]]:
    return [(cents, f"${cents / 100:.2f} a month") for cents in settings.SUPER_FOLLOWS_PRICES_CENTS]


class PlanForm(forms.Form):
    price_cents = forms.TypedChoiceField(
        label="Monthly price",
        coerce=int,
        choices=_price_choices,
        error_messages={"invalid_choice": "Choose one of the offered monthly prices."},
    )


class TipForm(forms.Form):
    amount = forms.DecimalField(
        label="Tip (US dollars)",
        max_digits=8,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"step": "0.01", "inputmode": "decimal"}),
    )
    announce = forms.BooleanField(label="Announce my tip in the Space", required=False, initial=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["amount"]
        field.widget.attrs.update(min=f"{settings.TIP_MIN_CENTS / 100:.2f}", max=f"{settings.TIP_MAX_CENTS / 100:.2f}")
        field.help_text = tip_range_text()

    def clean_amount(self) -> int:
        cents = int(self.cleaned_data["amount"] * 100)
        error = tip_amount_error(cents)
        if error:
            raise forms.ValidationError(error)
        return cents
