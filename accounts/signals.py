"""Signals other apps hook into, so accounts never imports them (rooms removes a blocked listener, and ends a
suspended account's Spaces)."""

from __future__ import annotations

from django.dispatch import Signal

block_created = Signal()  # blocker, blocked; sent inside block_create's transaction
account_suspended = Signal()  # user; sent inside account_suspend's transaction
