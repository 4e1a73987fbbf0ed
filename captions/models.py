"""Live captions and kept transcripts."""
