"""Forms for the money side; each bad value comes back as a field error."""

from __future__ import annotations

from django import forms
from django.conf import settings

from .money import decimal_text, format_cents
from .tickets import ticket_price_errors, ticket_price_range_text
from .tips import tip_amount_error, tip_out_of_range_text, tip_range_text


def _price_choices() -> list[tuple[int, str]]:
    return [(cents, f"{format_cents(cents)} a month") for cents in settings.SUPER_FOLLOWS_PRICES_CENTS]


class PlanForm(forms.Form):
    price_cents = forms.TypedChoiceField(
        label="Monthly price",
        coerce=int,
        choices=_price_choices,
        error_messages={"invalid_choice": "Choose one of the offered monthly prices."},
    )


def dollars_errors(out_of_range: str) -> dict[str, str]:
    """An amount's errors in the site's words, not Django's ("Ensure that there are no more than 8 digits in
    total."): a number with too many digits is out of the range the form states."""
    return {
        "invalid": "Enter an amount in dollars, like 5 or 12.50.",
        "max_decimal_places": "Give dollars and cents: at most two digits after the point.",
        "max_digits": out_of_range,
        "max_whole_digits": out_of_range,
    }


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
        field.widget.attrs.update(min=decimal_text(settings.TIP_MIN_CENTS), max=decimal_text(settings.TIP_MAX_CENTS))
        field.help_text = tip_range_text()
        field.error_messages.update(dollars_errors(tip_out_of_range_text()))

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
    )
    quantity = forms.IntegerField(
        label="Number of tickets",
        max_value=100_000,
        error_messages={"invalid": "Enter a whole number of tickets.", "max_value": "At most 100,000 tickets."},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        errors = dollars_errors(ticket_price_range_text())
        self.fields["price"].error_messages.update(errors, invalid="Enter a price in dollars, like 5 or 12.50.")

    def clean_price(self) -> int:
        cents = int(self.cleaned_data["price"] * 100)
        errors = ticket_price_errors(cents)
        if errors:
            raise forms.ValidationError(errors)
        return cents

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if quantity < 1:
            raise forms.ValidationError("Offer at least one ticket.")
        return quantity
