"""Payments test mode: a local provider that speaks the part of Stripe's API this project uses."""
