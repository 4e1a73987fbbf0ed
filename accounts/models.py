"""People and their graph: users, follows, blocks, reports, posts (likes, replies, reposts, hashtags),
messages, notifications."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from .usernames import skeleton
from .validators import validate_date_of_birth, validate_time_zone


class User(AbstractUser):
    class MessagePolicy(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        FOLLOWED = "followed", "Only people I follow"
        NOBODY = "nobody", "Nobody"

    display_name = models.CharField(max_length=50, blank=True)
    bio = models.CharField(max_length=160, blank=True)
    avatar = models.ImageField(upload_to="avatars/", blank=True)
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_date_of_birth])
    # An IANA name ("Europe/Lisbon"); empty until the browser tells us, and then times read in UTC.
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    message_policy = models.CharField(
        "Who can message you", max_length=10, choices=MessagePolicy.choices, default=MessagePolicy.EVERYONE
    )
    # Kept in step by accounts.services so hot paths (hosting, ticketing) read one column.
    followers_count = models.PositiveIntegerField(default=0, editable=False)
    following_count = models.PositiveIntegerField(default=0, editable=False)
    # What the username looks like (accounts.usernames.skeleton), so a lookalike of a handle is one indexed look-up.
    username_skeleton = models.CharField(max_length=300, blank=True, editable=False, db_index=True)

    class Meta:
        # In the order "who to follow" tops up with popular accounts: with the id in it, the first few are read
        # straight off the index, not sorted out of every account that shares a count (most have none).
        indexes = [models.Index(fields=["-followers_count", "id"], name="user_popular_idx")]

    def save(self, *args, **kwargs) -> None:
        self.username_skeleton = skeleton(self.username)
        if kwargs.get("update_fields") is not None and "username" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "username_skeleton"}
        super().save(*args, **kwargs)

    def __str__(self) -> str:
        return f"@{self.username}"

    @property
    def name(self) -> str:
        return self.display_name or self.username

    @property
    def initial(self) -> str:
        return self.name[:1].upper()

    def get_absolute_url(self) -> str:
        return reverse("accounts:profile", kwargs={"username": self.username})

    def age_on(self, day: date) -> int | None:
        if self.date_of_birth is None:
            return None
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    @property
    def is_adult(self) -> bool:
        age = self.age_on(timezone.localdate())
        return age is not None and age >= 18


class Follow(models.Model):
    follower = models.ForeignKey(User, on_delete=models.CASCADE, related_name="following_links")
    followee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="follower_links")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "-created_at"], name="follow_followee_idx")]

    def __str__(self) -> str:
        return f"{self.follower} → {self.followee}"


class Block(models.Model):
    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_once"),
            models.CheckConstraint(condition=~Q(blocker=F("blocked")), name="block_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.blocker} ⊘ {self.blocked}"


class Post(models.Model):
    class Audience(models.TextChoices):
        EVERYONE = "everyone", "Everyone"
        SUPER_FOLLOWERS = "super_followers", "Super Followers only"

    author = models.ForeignKey(User, on_delete=models.CASCADE, related_name="posts")
    # Empty only for a plain repost; a quote is a repost with a body.
    body = models.CharField(max_length=settings.POST_MAX_LENGTH, blank=True)
    # Who may read it; accounts.audience decides, with the Super Follows answers ticketing registers.
    audience = models.CharField(max_length=20, choices=Audience.choices, default=Audience.EVERYONE)
    reply_to = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="replies")
    repost_of = models.ForeignKey("self", on_delete=models.CASCADE, null=True, blank=True, related_name="reposts")
    hashtags = models.ManyToManyField("Hashtag", blank=True, related_name="posts")
    # Kept in step by accounts.engagement so timelines show counts without counting.
    likes_count = models.PositiveIntegerField(default=0, editable=False)
    replies_count = models.PositiveIntegerField(default=0, editable=False)
    reposts_count = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["author", "-created_at", "-id"], name="post_author_time_idx"),
            # A timeline walks this newest first, keeping the followed accounts' posts, instead of sorting them all.
            models.Index(fields=["-created_at", "-id"], name="post_time_idx"),
            models.Index(fields=["reply_to", "created_at"], name="post_replies_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(body="") | Q(repost_of__isnull=False), name="post_not_empty"),
            models.CheckConstraint(
                condition=Q(audience__in=["everyone", "super_followers"]), name="post_audience_known"
            ),
            models.CheckConstraint(
                condition=Q(reply_to__isnull=True) | Q(repost_of__isnull=True), name="post_reply_or_repost"
            ),
            models.UniqueConstraint(fields=["author", "repost_of"], condition=Q(body=""), name="post_repost_once"),
        ]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:40]}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:post", kwargs={"username": self.author.username, "pk": self.pk})

    @property
    def for_super_followers(self) -> bool:
        return self.audience == self.Audience.SUPER_FOLLOWERS

    @property
    def is_plain_repost(self) -> bool:
        return self.repost_of_id is not None and not self.body


class Like(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="likes")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "post"], name="like_once")]
        indexes = [models.Index(fields=["post", "-created_at"], name="like_post_idx")]

    def __str__(self) -> str:
        return f"{self.user} ♥ {self.post_id}"


class Hashtag(models.Model):
    # Lower case, without the '#'.
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return f"#{self.name}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:hashtag", kwargs={"name": self.name})


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACTIONED = "actioned", "Actioned"
        DISMISSED = "dismissed", "Dismissed"

    class Reason(models.TextChoices):
        SPAM = "spam", "Spam"
        ABUSE = "abuse", "Abuse or harassment"
        HATE = "hate", "Hateful conduct"
        IMPERSONATION = "impersonation", "Impersonation"
        OTHER = "other", "Something else"

    reporter = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports_made")
    reported_user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="reports_received")
    post = models.ForeignKey(Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    details = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.get_reason_display()} report on {self.reported_user}"


class Conversation(models.Model):
    """A one-to-one thread; `user_a` has the lower id so each pair has one row."""

    user_a = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    user_b = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    last_message_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user_a", "user_b"], name="conversation_pair_once"),
            models.CheckConstraint(condition=Q(user_a__lt=F("user_b")), name="conversation_pair_ordered"),
        ]

    def __str__(self) -> str:
        return f"{self.user_a} ↔ {self.user_b}"

    def get_absolute_url(self) -> str:
        return reverse("accounts:conversation", kwargs={"pk": self.pk})

    def other(self, user: User) -> User:
        return self.user_b if user.pk == self.user_a_id else self.user_a


class Message(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    body = models.CharField(max_length=settings.DM_MAX_LENGTH)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_thread_idx"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="message_unread_idx"),
        ]
        constraints = [models.CheckConstraint(condition=~Q(body=""), name="message_not_empty")]

    def __str__(self) -> str:
        return f"{self.sender} → {self.recipient}: {self.body[:40]}"


class Notification(models.Model):
    class Kind(models.TextChoices):
        FOLLOW = "follow", "New follower"
        MESSAGE = "message", "Direct message"
        SPACE_LIVE = "space_live", "Space is live"
        SPACE_REMINDER = "space_reminder", "Space reminder"
        SPACE_INVITE = "space_invite", "Space invitation"
        TICKET = "ticket", "Tickets"
        LIKE = "like", "Likes"
        REPLY = "reply", "Replies"
        REPOST = "repost", "Reposts"
        QUOTE = "quote", "Quotes"
        MENTION = "mention", "Mentions"
        OTHER = "other", "Other"

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    actor = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    text = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    # Set on notifications that gather many actors into one row ("like:post:7"), and on those sent
    # once ever ("follow:3"); each key has at most one row per recipient.
    group_key = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_inbox_idx"),
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread_idx"),
            # Rewriting every "is live" notice of a Space once it ends.
            models.Index(fields=["group_key"], condition=~Q(group_key=""), name="notification_group_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "group_key"], condition=~Q(group_key=""), name="notification_group_once"
            )
        ]

    def __str__(self) -> str:
        return f"to {self.recipient}: {self.text}"
