"""Live audio rooms: Spaces, participants, roles, moderation, scheduling."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone


class Space(models.Model):
    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"
        CANCELLED = "cancelled", "Cancelled"
        # Scheduled, but the host never started it within the grace period after its time.
        MISSED = "missed", "Missed"

    class Audience(models.TextChoices):
        PUBLIC = "public", "Everyone"
        SUPER_FOLLOWERS = "super_followers", "Super Followers"
        TICKETED = "ticketed", "Ticket holders"

    class SpeakingPolicy(models.TextChoices):
        EVERYONE = "everyone", "Everyone who requests"
        FOLLOWED = "followed", "People you follow"
        INVITED = "invited", "Only people you invite"

    host = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hosted_spaces")
    title = models.CharField(max_length=100)
    # Up to three topics, stored lower-case and comma-separated so search is one icontains.
    topics = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.PUBLIC)
    speaking_policy = models.CharField(max_length=10, choices=SpeakingPolicy.choices, default=SpeakingPolicy.EVERYONE)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    peak_listeners = models.PositiveIntegerField(default=0)
    # Set when the host's last socket closes; the sweep ends the Space after the grace period.
    host_left_at = models.DateTimeField(null=True, blank=True)
    # When the host was told the scheduled time had come (the "Start now" notice); set once.
    due_notice_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["host"], condition=Q(state="live"), name="one_live_space_per_host"),
        ]
        indexes = [
            models.Index(fields=["state", "scheduled_for"], name="space_state_time_idx"),
            models.Index(fields=["host", "state"], name="space_host_state_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("rooms:detail", kwargs={"pk": self.pk})

    @property
    def topic_list(self) -> list[str]:
        return [t for t in self.topics.split(",") if t]

    @property
    def is_live(self) -> bool:
        return self.state == self.State.LIVE

    @property
    def is_over(self) -> bool:
        return self.state in (self.State.ENDED, self.State.CANCELLED, self.State.MISSED)

    @property
    def is_due(self) -> bool:
        """Scheduled and its time has come, but the host has not started it yet."""
        return (
            self.state == self.State.SCHEDULED
            and self.scheduled_for is not None
            and self.scheduled_for <= timezone.now()
        )

    @property
    def duration(self):
        if self.started_at and self.ended_at:
            return self.ended_at - self.started_at
        return None


class Role(models.TextChoices):
    HOST = "host", "Host"
    COHOST = "cohost", "Co-host"
    SPEAKER = "speaker", "Speaker"
    LISTENER = "listener", "Listener"


MANAGER_ROLES = frozenset({Role.HOST, Role.COHOST})
SPEAKING_ROLES = frozenset({Role.HOST, Role.COHOST, Role.SPEAKER})


class Participant(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_participations")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.LISTENER)
    muted = models.BooleanField(default=False)
    hand_raised_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    # Which relay slot carries this person's audio while they hold a speaking role.
    speaker_index = models.PositiveSmallIntegerField(null=True, blank=True)
    joined_at = models.DateTimeField(default=timezone.now)
    # Kept when they step down or are made a listener: the ended Space lists everyone who was on stage.
    first_on_stage_at = models.DateTimeField(null=True, blank=True)
    # Not columns: services.participant_join and participants_join set them on the instances they return (the
    # socket just recorded, whether that is the person's only open socket in the Space, the roles they are
    # invited to).
    socket_id: int
    first_connection: bool
    invitation_roles: set[str]

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["space", "user"], name="participant_once"),
            models.UniqueConstraint(
                fields=["space", "speaker_index"],
                condition=Q(speaker_index__isnull=False),
                name="participant_speaker_slot_once",
            ),
            models.UniqueConstraint(fields=["space"], condition=Q(role="host"), name="participant_one_host"),
        ]
        indexes = [
            models.Index(fields=["space", "role"], name="participant_space_role_idx"),
            # A page of a Space's listeners (the welcome's first, then on request) walks these in order and
            # stops: it costs the same in a Space of 10 and of 10,000.
            models.Index(fields=["space", "role", "id"], name="participant_listener_page_idx"),
            models.Index(
                fields=["space", "hand_raised_at"],
                condition=Q(hand_raised_at__isnull=False),
                name="participant_hands_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}) in {self.space}"

    @property
    def hand_raised(self) -> bool:
        return self.hand_raised_at is not None

    @property
    def removed(self) -> bool:
        return self.removed_at is not None

    @property
    def can_speak(self) -> bool:
        return self.role in SPEAKING_ROLES


class ServerProcess(models.Model):
    """A server process holding room sockets. Its heartbeat keeps `expires_at` ahead while it runs, so the
    sockets of a process that was killed stop counting on their own when its lease runs out."""

    name = models.CharField(max_length=100, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    renewed_at = models.DateTimeField(default=timezone.now)  # last seen alive
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.name


class RoomSocketQuerySet(models.QuerySet):
    def live(self, now=None):
        """Sockets whose process still holds its lease."""
        return self.filter(process__expires_at__gt=now or timezone.now())


class RoomSocket(models.Model):
    """One open room socket; a person is in a Space while they have a live one (a reload briefly makes two)."""

    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="sockets")
    process = models.ForeignKey(ServerProcess, on_delete=models.CASCADE, related_name="sockets")
    opened_at = models.DateTimeField(default=timezone.now)

    objects = RoomSocketQuerySet.as_manager()

    def __str__(self) -> str:
        return f"socket of {self.participant_id} on {self.process_id}"


class Invitation(models.Model):
    """An invitation to speak or to co-host, made live or named in advance."""

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="invitations")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_invitations")
    role = models.CharField(max_length=10, choices=[(Role.COHOST, "Co-host"), (Role.SPEAKER, "Speaker")])
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "user"], name="invitation_once")]

    def __str__(self) -> str:
        return f"{self.user} invited to {self.get_role_display()} in {self.space}"


class PinnedPost(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="pins")
    post = models.ForeignKey("accounts.Post", on_delete=models.CASCADE, related_name="+")
    pinned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "post"], name="pin_once")]

    def __str__(self) -> str:
        return f"{self.post} pinned in {self.space}"


class Reminder(models.Model):
    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="reminders")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_reminders")
    created_at = models.DateTimeField(default=timezone.now)
    # The reminder's notice (ahead, or at the start); the beat task sets it in the same transaction that notifies.
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set when the Space was less than the lead time away: the reminder comes at the start instead of ahead.
    at_start = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["space", "user"], name="reminder_once")]
        indexes = [models.Index(fields=["space"], condition=Q(sent_at__isnull=True), name="reminder_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.user} reminded of {self.space}"


class SpaceReport(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam"
        ABUSE = "abuse", "Abuse or harassment"
        HATE = "hate", "Hateful conduct"
        OTHER = "other", "Something else"

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reported_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(max_length=10, choices=Reason.choices)
    details = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        who = self.reported_user or "the Space"
        return f"{self.get_reason_display()} report on {who}"


class Question(models.Model):
    """A listener's text question to the hosts; hosts and co-hosts upvote it, pin it to the stage, answer it."""

    MAX_LENGTH = 280

    space = models.ForeignKey(Space, on_delete=models.CASCADE, related_name="questions")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="space_questions")
    text = models.CharField(max_length=MAX_LENGTH)
    asked_at = models.DateTimeField(default=timezone.now)
    pinned_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # The stage shows one question at a time.
            models.UniqueConstraint(fields=["space"], condition=Q(pinned_at__isnull=False), name="question_one_pinned"),
        ]
        indexes = [models.Index(fields=["space", "asked_at"], name="question_space_time_idx")]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"

    @property
    def public(self) -> bool:
        """Pinned or answered questions are shown to the whole room; others to the hosts and their author."""
        return self.pinned_at is not None or self.answered_at is not None


class QuestionVote(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["question", "user"], name="question_vote_once")]

    def __str__(self) -> str:
        return f"{self.user} upvoted {self.question_id}"


from .replays.models import Clip, Recording, RecordingChunk, ReplayListen  # noqa: E402,F401  (models of rooms.replays)
