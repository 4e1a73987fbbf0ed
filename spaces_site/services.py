"""Writes every app shares: `model_update`, the one way a plain change of some fields reaches the database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from django.db import models

M = TypeVar("M", bound=models.Model)


def model_update(*, instance: M, fields: Iterable[str], data: Mapping[str, Any]) -> tuple[M, bool]:
    """Set the `fields` of `instance` that `data` holds (a whitelist: anything else in `data` is ignored),
    validate what changed with `full_clean`, and save only those fields. Returns the instance and whether
    anything changed. Values go through each field's `save_form_data`, so a cleared file field (False from a
    form) is stored as no file, as a ModelForm would."""
    changed = []
    for name in fields:
        if name not in data:
            continue
        field = instance._meta.get_field(name)
        assert isinstance(field, models.Field), f"{name} is not a field of {type(instance).__name__}"
        before = field.value_from_object(instance)
        field.save_form_data(instance, data[name])
        if field.value_from_object(instance) != before:
            changed.append(name)
    if changed:
        untouched = [field.name for field in instance._meta.concrete_fields if field.name not in changed]
        instance.full_clean(exclude=untouched)
        instance.save(update_fields=changed)
    return instance, bool(changed)
