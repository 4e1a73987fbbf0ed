"""Live captions and kept transcripts: caption segments and each listener's caption preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class CaptionSegment(models.Model):
    """One final recognised utterance of one speaker; offsets are ms since the Space went live."""

    space = models.ForeignKey("rooms.Space", on_delete=models.CASCADE, related_name="caption_segments")
    speaker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caption_segments")
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["space", "start_ms", "id"]
        indexes = [models.Index(fields=["space", "start_ms"], name="caption_space_start_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(end_ms__gte=F("start_ms")), name="caption_ends_after_start"),
            # A task retried after a crash stores the same utterance again; the offsets identify it.
            models.UniqueConstraint(fields=["space", "speaker", "start_ms"], name="caption_once_per_start"),
        ]

    def __str__(self) -> str:
        return f"{self.speaker_id}@{self.start_ms}ms: {self.text[:40]}"


class CaptionPreference(models.Model):
    """How one listener wants captions shown; saved per user, applied in every Space."""

    class TextSize(models.TextChoices):
        SMALL = "small", "Small"
        MEDIUM = "medium", "Medium"
        LARGE = "large", "Large"
        XLARGE = "xlarge", "Extra large"

    class Position(models.TextChoices):
        BOTTOM = "bottom", "Bottom"
        TOP = "top", "Top"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="caption_preference")
    enabled = models.BooleanField(default=True)  # captions are on until a listener turns them off
    text_size = models.CharField(max_length=10, choices=TextSize.choices, default=TextSize.MEDIUM)
    high_contrast = models.BooleanField(default=False)
    position = models.CharField(max_length=10, choices=Position.choices, default=Position.BOTTOM)
    # Consent as a speaker: when False this user's voice is never sent to the recogniser.
    caption_my_voice = models.BooleanField(default=True)
    # A host's keyword alerts: comma-separated words or phrases; live captions containing one alert
    # the host and co-hosts of the host's Spaces.
    alert_words = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"caption preferences of {self.user_id}"


class CaptionLease(models.Model):
    """Which caption worker holds a live Space; the holder renews `expires_at`, the sweep reclaims stale ones.

    `holder` is PENDING between dispatch and a worker taking over, so a Space waiting in the queue is
    not dispatched again until the pending claim itself expires.
    """

    PENDING = "pending"
    WAITING = "waiting for a free captioner"  # last_error while listeners have been told to wait

    space = models.OneToOneField("rooms.Space", on_delete=models.CASCADE, primary_key=True, related_name="+")
    holder = models.CharField(max_length=100)
    expires_at = models.DateTimeField()
    # Fencing token: raised by every new holder; captions of an older token are neither kept nor shown.
    token = models.PositiveBigIntegerField(default=0)
    # Set when the holder gave up for good (the engine could not load): shown to operators in the admin.
    last_error = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"captions of space {self.space_id} held by {self.holder} until {self.expires_at:%H:%M:%S}"
