"""How amounts in cents are written: one formatter for people and one for machines (CSV, form limits)."""

from __future__ import annotations


def format_cents(cents: int | None) -> str:
    """2999 -> "$29.99"; 123456 -> "$1,234.56"; None -> "$0.00"."""
    return f"${(cents or 0) / 100:,.2f}"


def decimal_text(cents: int | None) -> str:
    """2999 -> "29.99": for a CSV column or an input's min/max, without a symbol or grouping."""
    return f"{(cents or 0) / 100:.2f}"
