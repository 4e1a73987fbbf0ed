"""The hosted checkout's card form: Stripe's field checks and its published test cards."""

from __future__ import annotations

import re
from datetime import date

from django import forms

# Stripe's test card numbers (https://docs.stripe.com/testing) and what each does.
SUCCEEDS = {
    "4242424242424242": "visa",
    "4000056655665556": "visa",
    "5555555555554444": "mastercard",
    "2223003122003222": "mastercard",
    "378282246310005": "amex",
    "6011111111111117": "discover",
}
DECLINES = {
    "4000000000000002": "Your card was declined.",
    "4000000000009995": "Your card has insufficient funds.",
    "4000000000009987": "Your card was declined.",
    "4000000000009979": "Your card was declined.",
    "4000000000000069": "Your card has expired.",
    "4000000000000127": "Your card's security code is incorrect.",
    "4000000000000119": "An error occurred while processing your card. Try again in a little bit.",
}
NOT_A_TEST_CARD = (
    "Your card was declined. Your request was in test mode, but used a non test card. "
    "Use a test card such as 4242 4242 4242 4242."
)


def _luhn_ok(number: str) -> bool:
    total = 0
    for index, digit in enumerate(reversed(number)):
        value = int(digit) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class CardForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=254)
    number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "cc-number", "placeholder": "1234 1234 1234 1234"}
        ),
    )
    expiry = forms.CharField(
        label="Expiration (MM / YY)",
        max_length=7,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-exp", "placeholder": "MM / YY"}),
    )
    cvc = forms.CharField(
        label="CVC",
        max_length=4,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "cc-csc", "placeholder": "CVC"}),
    )
    name = forms.CharField(
        label="Cardholder name", max_length=100, widget=forms.TextInput(attrs={"autocomplete": "cc-name"})
    )

    def clean_number(self) -> str:
        number = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not number.isdecimal():  # isdigit() takes "²", which int() refuses
            raise forms.ValidationError("Your card number is invalid.")
        if len(number) < 14:
            raise forms.ValidationError("Your card number is incomplete.")
        if len(number) > 19 or not _luhn_ok(number):
            raise forms.ValidationError("Your card number is invalid.")
        return number

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/?\s*(\d{2})\s*", self.cleaned_data["expiry"])
        if not match:
            raise forms.ValidationError("Your card's expiration date is incomplete.")
        month, year = int(match.group(1)), 2000 + int(match.group(2))
        if not 1 <= month <= 12:
            raise forms.ValidationError("Your card's expiration month is invalid.")
        today = date.today()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("Your card's expiration year is in the past.")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not cvc.isdecimal() or len(cvc) < 3:
            raise forms.ValidationError("Your card's security code is incomplete.")
        return cvc

    def charge_outcome(self) -> tuple[str | None, str | None]:
        """(brand, None) for a card that pays, (None, Stripe's decline message) otherwise; call once valid."""
        number = self.cleaned_data["number"]
        if number in SUCCEEDS:
            brand = SUCCEEDS[number]
            if brand == "amex" and len(self.cleaned_data["cvc"]) != 4:
                return None, "Your card's security code is incorrect."
            return brand, None
        return None, DECLINES.get(number, NOT_A_TEST_CARD)
