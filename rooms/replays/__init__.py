"""Recording Spaces, replays with their transcript, search and clips: a sub-domain of rooms."""
