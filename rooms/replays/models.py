"""Recordings of Spaces, the per-speaker frame chunks they are mixed from, replay listens and clips."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone


class Recording(models.Model):
    """A Space's recording: chosen by the host, written by one recorder at a time, mixed after the end.

    The recorder holds `holder` until `lease_expires_at` and renews it; the sweep restarts a recorder
    whose lease expired while the Space is live.
    """

    class State(models.TextChoices):
        RECORDING = "recording", "Recording"
        MIXING = "mixing", "Being prepared"
        READY = "ready", "Ready"
        FAILED = "failed", "Could not be prepared"
        DELETED = "deleted", "Deleted"

    PENDING = "pending"

    space = models.OneToOneField("rooms.Space", on_delete=models.CASCADE, primary_key=True, related_name="recording")
    # The host can stop and restart recording while live; frames arriving while off are never written.
    active = models.BooleanField(default=True)
    clipping = models.BooleanField(default=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RECORDING)
    holder = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    audio = models.CharField(max_length=200, blank=True)  # name in the replays storage
    content_type = models.CharField(max_length=50, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    mix_attempts = models.PositiveSmallIntegerField(default=0)
    mix_seconds = models.FloatField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    ready_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"recording of space {self.space_id} ({self.state})"

    @property
    def is_ready(self) -> bool:
        return self.state == self.State.READY and bool(self.audio)


class RecordingChunk(models.Model):
    """A few seconds of one speaker's frames with their place on the Space's timeline (see recorder.py)."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="chunks")
    speaker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    frames = models.PositiveIntegerField()
    name = models.CharField(max_length=200, unique=True)

    class Meta:
        indexes = [models.Index(fields=["recording", "speaker", "start_ms"], name="recchunk_rec_speaker_idx")]
        constraints = [models.CheckConstraint(condition=Q(end_ms__gte=F("start_ms")), name="recchunk_ends_after_start")]

    def __str__(self) -> str:
        return self.name


class RecordingConsent(models.Model):
    """A speaker's answer, for one recording, to "may your voice be in the replay?".

    Without an answer a speaker is recorded (they see REC and are told when they come on stage), except
    those who declined captioning of their voice: they are recorded only once they accept (see consent.py).
    """

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="consents")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    accepted = models.BooleanField()
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recording", "user"], name="recording_consent_once")]

    def __str__(self) -> str:
        return f"{self.user_id} {'accepts' if self.accepted else 'declines'} recording {self.recording_id}"


class ReplayListen(models.Model):
    """One person listened to a replay on a day; counted once per person per day."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="listens")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recording", "user", "day"], name="replay_listen_once_a_day")]

    def __str__(self) -> str:
        return f"{self.user_id} listened to {self.recording_id} on {self.day}"


class Clip(models.Model):
    """Up to 60 s of a recording (30 s when made live), with its own page."""

    recording = models.ForeignKey(Recording, on_delete=models.CASCADE, related_name="clips")
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start_ms = models.PositiveIntegerField()
    end_ms = models.PositiveIntegerField()
    title = models.CharField(max_length=100, blank=True)
    audio = models.CharField(max_length=200, blank=True)  # cut once the recording is ready
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(end_ms__gt=F("start_ms")), name="clip_ends_after_start"),
            models.CheckConstraint(condition=Q(end_ms__lte=F("start_ms") + 60_000), name="clip_at_most_60s"),
        ]

    def __str__(self) -> str:
        return f"clip {self.pk} of space {self.recording_id}"

    def get_absolute_url(self) -> str:
        return reverse("rooms:clip", kwargs={"pk": self.pk})

    @property
    def duration_ms(self) -> int:
        return self.end_ms - self.start_ms


class ListenerSample(models.Model):
    """One minute of a live Space for its host's listener curve: people present, joins, leaves, reactions.

    Written by a periodic sample (tasks.sample_listener_curves) from counters the rooms keep in the cache,
    so the row count is one per minute per Space whatever the audience does.
    """

    space = models.ForeignKey("rooms.Space", on_delete=models.CASCADE, related_name="listener_samples")
    minute = models.DateTimeField()  # the start of the wall-clock minute
    listeners = models.PositiveIntegerField(default=0)
    joins = models.PositiveIntegerField(default=0)
    leaves = models.PositiveIntegerField(default=0)
    reactions = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "minute"], name="listener_sample_once_a_minute")]

    def __str__(self) -> str:
        return f"space {self.space_id} at {self.minute:%H:%M}: {self.listeners} listening"
