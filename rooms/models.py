"""Live audio rooms: Spaces, participants, roles, moderation, scheduling."""
