"""Signals other apps hook into, so accounts never imports them (rooms removes a blocked listener)."""

from __future__ import annotations

from django.dispatch import Signal

block_created = Signal()  # blocker, blocked; sent inside block_create's transaction
