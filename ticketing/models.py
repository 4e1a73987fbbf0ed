"""Super Follows, ticketed Spaces, tips and payouts."""
