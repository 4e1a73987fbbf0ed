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


class TicketOfferForm(forms.Form):
    """Price in dollars (as the host thinks of it), stored in cents; the limits are the settings'."""

    price = forms.DecimalField(
        label="Ticket price (USD)",
        max_digits=8,
        decimal_places=2,
        error_messages={"invalid": "Enter a price in dollars, like 5 or 12.50."},
    )
    quantity = forms.IntegerField(
        label="Number of tickets",
        max_value=100_000,
        error_messages={"invalid": "Enter a whole number of tickets.", "max_value": "At most 100,000 tickets."},
    )

    def clean_price(self) -> int:
        cents = int(self.cleaned_data["price"] * 100)
        low, high = settings.TICKET_PRICE_MIN_CENTS, settings.TICKET_PRICE_MAX_CENTS
        if not low <= cents <= high:
            raise forms.ValidationError(f"A ticket costs between ${low / 100:,.2f} and ${high / 100:,.2f}.")
        return cents

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if quantity < 1:
            raise forms.ValidationError("Offer at least one ticket.")
        return quantity
