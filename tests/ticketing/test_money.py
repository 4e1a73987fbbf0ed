"""How amounts in cents are written, on pages (the `cents` filter too) and in the CSV export."""

from __future__ import annotations

import pytest
from django.template import Context, Template

from ticketing.money import decimal_text, format_cents


@pytest.mark.parametrize(
    ("cents", "shown"), [(0, "$0.00"), (5, "$0.05"), (2999, "$29.99"), (123_456, "$1,234.56"), (None, "$0.00")]
)
def test_amounts_read_in_dollars_with_cents_and_thousands_grouped(cents, shown):
    assert format_cents(cents) == shown


def test_the_template_filter_writes_what_the_services_write():
    rendered = Template("{% load ticketing %}{{ amount|cents }}").render(Context({"amount": 99_900}))
    assert rendered == format_cents(99_900) == "$999.00"


def test_machine_readable_amounts_have_no_symbol_or_grouping():
    assert decimal_text(123_456) == "1234.56"
    assert decimal_text(100) == "1.00"
