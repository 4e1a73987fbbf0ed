"""Validators shared by the User model and the sign-up form."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

# Nobody living was born before this: an earlier year is a slip of the date picker, not an age.
EARLIEST_BIRTH_YEAR = 1900


def validate_date_of_birth(day: date | None) -> None:
    if day and day >= timezone.localdate():
        raise ValidationError("Your date of birth must be in the past.")
    if day and day.year < EARLIEST_BIRTH_YEAR:
        raise ValidationError(f"Check the year: a date of birth is in {EARLIEST_BIRTH_YEAR} or later.")


def validate_time_zone(name: str) -> None:
    from .timezones import known_zones

    if name and name not in known_zones():
        raise ValidationError(f"“{name}” is not a time zone we know; pick one from the list.")
