"""Creates a believable demo network; running it again changes nothing."""

from __future__ import annotations

import random
from datetime import date, timedelta

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import Follow, Hashtag, Like, Notification, Post, Report, User
from accounts.text import hashtag_names
from accounts.usernames import skeleton

DEMO_PASSWORD = "spaces-demo-2026"
FAN_COUNT = 1300

# (username, display name, bio, how many fans follow them)
NAMED = [
    ("maya", "Maya Okafor", "Hosts Spaces on music and tech. Tuesdays live.", 650),
    ("leo", "Leo Martins", "Creator. Ticketed Spaces on product design. Super Follows open.", 1200),
    ("sam", "Sam Rivera", "Listener, occasional speaker, always curious.", 40),
    ("ivy", "Ivy Chen", "Co-hosting with Maya. Podcasts and long walks.", 320),
]
FIRST = (
    "Ada Ben Cleo Dev Eli Faye Gus Hana Ian Jo Kai Lena Milo Nia Omar Pia Quinn Rosa Theo Uma Vik Wren Yara Zed".split()
)
LAST = "Adams Baker Cruz Diaz Evans Fox Garcia Hughes Ito Jones Khan Lee Moreau Novak Ortiz Park Reyes Tan".split()


class Command(BaseCommand):
    help = "Create demo accounts, posts and follows (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--migrate", action="store_true", help="Apply migrations first (one start-up for both).")

    def handle(self, *args, **options) -> None:
        if options["migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        # Live captions belong to the serving processes, whose sweep picks the demo's live Spaces up within
        # seconds; a captioner started here would load a model and hold each Space's lease after this
        # one-shot command exits, keeping the server's captioner out until the lease runs out.
        with override_settings(CAPTIONS_LIVE=False):
            self._seed()

    @transaction.atomic
    def _seed(self) -> None:
        if _network_exists():
            # The second `make run`: skip hashing the password and re-inserting thousands of rows.
            self.stdout.write("Demo network already there.")
            _seed_moderation(password=None)
            call_command("seed_spaces_demo", stdout=self.stdout)
            transaction.on_commit(lambda: call_command("seed_money_demo", stdout=self.stdout))
            return
        rng = random.Random(2026)
        password = make_password(DEMO_PASSWORD)
        now = timezone.now()

        named = {}
        for username, display_name, bio, _ in NAMED:
            named[username], _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "display_name": display_name,
                    "bio": bio,
                    "email": f"{username}@demo.spaces.local",
                    "password": password,
                    "date_of_birth": date(1990, 5, 17),
                },
            )
        fans = [
            User(
                username=f"fan{i:04d}",
                username_skeleton=skeleton(f"fan{i:04d}"),
                display_name=f"{FIRST[i % len(FIRST)]} {LAST[(i // len(FIRST)) % len(LAST)]}",
                email=f"fan{i:04d}@demo.spaces.local",
                password=password,
            )
            for i in range(1, FAN_COUNT + 1)
        ]
        User.objects.bulk_create(fans, ignore_conflicts=True, batch_size=500)
        fan_ids = list(
            User.objects.filter(username__startswith="fan").order_by("username").values_list("pk", flat=True)
        )

        EmailAddress.objects.bulk_create(
            [
                EmailAddress(user_id=pk, email=email, verified=True, primary=True)
                for pk, email in User.objects.filter(emailaddress__isnull=True).values_list("pk", "email")
                if email.endswith("@demo.spaces.local")
            ],
            ignore_conflicts=True,
        )

        follows = []
        for username, _, _, fan_total in NAMED:
            follows += [Follow(follower_id=pk, followee=named[username]) for pk in fan_ids[:fan_total]]
        for a in named.values():
            follows += [Follow(follower=a, followee=b) for b in named.values() if a != b]
        for pk in fan_ids:
            follows += [Follow(follower_id=pk, followee_id=other) for other in rng.sample(fan_ids, 8) if other != pk]
        Follow.objects.bulk_create(follows, ignore_conflicts=True, batch_size=2000)

        _seed_demo_hosts(fan_ids=fan_ids, password=password)
        if not Post.objects.filter(author__in=named.values()).exists():
            _seed_conversations(rng=rng, now=now, fan_ids=fan_ids)

        _recount_follows()
        _seed_moderation(password=password)
        call_command("seed_spaces_demo", stdout=self.stdout)
        # After the network is committed: its payments go through the test provider's webhooks.
        transaction.on_commit(lambda: call_command("seed_money_demo", stdout=self.stdout))
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo network ready: {User.objects.count()} accounts, {Follow.objects.count()} follows, "
                f"{Post.objects.count()} posts. Log in as maya, leo, sam or ivy with password {DEMO_PASSWORD!r}."
            )
        )


def _network_exists() -> bool:
    named = User.objects.filter(username__in=[username for username, *_ in NAMED]).count() == len(NAMED)
    return (
        named
        and User.objects.filter(username__startswith="fan").count() >= FAN_COUNT
        and (Post.objects.filter(author__username=NAMED[0][0]).exists())
    )


def _recount_follows() -> None:
    followers = Follow.objects.filter(followee=OuterRef("pk")).values("followee").annotate(n=Count("pk")).values("n")
    following = Follow.objects.filter(follower=OuterRef("pk")).values("follower").annotate(n=Count("pk")).values("n")
    User.objects.update(
        followers_count=Coalesce(Subquery(followers), 0), following_count=Coalesce(Subquery(following), 0)
    )


# --- The social network's conversations ------------------------------------------------------------------

# More hosts, so a few Spaces can be live and coming up at once (rooms' seed_spaces_demo schedules them).
DEMO_HOSTS = [
    ("nora", "Nora Lindqvist", "Jazz pianist. Listening parties every Friday, requests welcome.", 720),
    ("omar", "Omar Haddad", "Balcony gardener, compost evangelist. Ask me about tomatoes.", 640),
    ("priya", "Priya Raman", "Builds speech tech. Talks about AI without the hype.", 910),
]

OPENERS = [
    "Honest question:",
    "Small win today:",
    "Unpopular opinion:",
    "Note to self:",
    "Can't stop thinking about this:",
    "PSA:",
    "Okay,",
    "Still buzzing from last night.",
    "",
    "",
]
THOUGHTS = [
    "the best part of a live Space is when a listener raises their hand with the question nobody dared ask",
    "I finally recorded a melody on the old Juno and it sounds like 1986 in the best way",
    "my basil survived the heatwave, my mint took over the whole balcony",
    "audio rooms are better than video calls for brainstorming, nobody is checking their hair",
    "every product team should run one user call with the camera off and just listen",
    "I learned more about reverb in one hour with {friend} than in a year of tutorials",
    "the indie game Q&A went way over time and nobody wanted to leave",
    "speech recognition still trips on my accent, and the captions on Spaces got it right today",
    "bring a cup of tea to {friend}'s Space tonight, it's going to be a good one",
    "started a vinyl shelf, three records in and already out of space",
    "the trick to a good Q&A is a host who repeats the question before answering",
    "if your design review needs slides, it isn't a review, it's a presentation",
    "tomatoes on a north-facing balcony: possible, slow, worth it",
    "tried hosting with two co-hosts and it felt like a real radio show",
    "a quiet listener just became my favourite speaker of the week",
    "we should talk more about how models fail, not only how they score",
    "Friday jazz night is back and {friend} promised to play the Monk requests",
    "coffee, code, and a Space about compilers in the background: perfect morning",
    "the first thirty seconds of a talk decide whether people stay",
    "I keep a list of questions from listeners and it is the best roadmap we have",
]
TAGS = [
    "#synths",
    "#jazz",
    "#productdesign",
    "#gardening",
    "#indiegames",
    "#ai",
    "#podcasting",
    "#vinyl",
    "#livemusic",
    "#compost",
    "#ux",
    "#speechtech",
    "",
]
REPLIES = [
    "Completely agree.",
    "Saving this for later.",
    "Which synth was that?",
    "This made my morning, thanks {author}!",
    "I was there, it really was that good.",
    "Counterpoint: sometimes the slides help.",
    "Any tips for a first-timer?",
    "Same here, the mint wins every year.",
    "Can you share the recording?",
    "Setting a reminder right now.",
    "Ha, this is so true.",
    "Going to try this at work tomorrow.",
]
QUOTES = [
    "Everyone who hosts should read this.",
    "This is the whole reason I joined.",
    "Bookmarking for our next team retro.",
    "Strong agree, with one caveat: tea, not coffee.",
]


def _seed_demo_hosts(*, fan_ids: list[int], password: str) -> None:
    """The extra hosts and their fans (idempotent)."""
    hosts = []
    for username, display_name, bio, _ in DEMO_HOSTS:
        host, _ = User.objects.get_or_create(
            username=username,
            defaults={
                "display_name": display_name,
                "bio": bio,
                "email": f"{username}@demo.spaces.local",
                "password": password,
                "date_of_birth": date(1988, 3, 9),
            },
        )
        hosts.append(host)
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=h, email=h.email, verified=True, primary=True) for h in hosts], ignore_conflicts=True
    )
    if Follow.objects.filter(followee=hosts[-1]).exists():
        return  # seeded before
    follows = []
    for host, (_, _, _, fan_total) in zip(hosts, DEMO_HOSTS, strict=True):
        start = (hosts.index(host) * 211) % len(fan_ids)
        chosen = (fan_ids[start:] + fan_ids[:start])[:fan_total]
        follows += [Follow(follower_id=pk, followee=host) for pk in chosen]
    follows += [Follow(follower=a, followee=b) for a in hosts for b in hosts if a != b]
    named = User.objects.filter(username__in=["maya", "leo", "sam", "ivy"])
    follows += [Follow(follower=a, followee=b) for a in named for b in hosts]
    Follow.objects.bulk_create(follows, ignore_conflicts=True, batch_size=2000)


def _seed_moderation(*, password: str | None) -> None:
    """A moderator (`staff`, who signs in to /admin/) and a report waiting for them (idempotent)."""
    if User.objects.filter(username="staff").exists():
        return
    staff = User.objects.create(
        username="staff",
        username_skeleton=skeleton("staff"),
        display_name="Spaces Moderator",
        email="staff@demo.spaces.local",
        password=password or make_password(DEMO_PASSWORD),
        is_staff=True,
        is_superuser=True,
    )
    EmailAddress.objects.create(user=staff, email=staff.email, verified=True, primary=True)
    spammer = User.objects.get(username="fan1299")
    post = Post.objects.create(author=spammer, body="Free followers!!! DM me now, only today, 10,000 followers for $5")
    Report.objects.create(
        reporter=User.objects.get(username="sam"), reported_user=spammer, post=post, reason=Report.Reason.SPAM
    )


def _seed_conversations(*, rng: random.Random, now, fan_ids: list[int]) -> None:
    """Varied posts with @mentions and #hashtags, then replies, likes, reposts and quotes, their counts,
    and the notifications a demo host would have (bulk inserts, so it stays fast)."""
    people = list(User.objects.filter(username__in=["maya", "leo", "sam", "ivy"] + [h[0] for h in DEMO_HOSTS]))
    authors = people + list(User.objects.filter(pk__in=fan_ids[:200]))
    posts = []
    for n in range(600):
        author = authors[n % len(authors)] if n % 3 else rng.choice(people)
        friend = rng.choice([p for p in people if p.pk != author.pk])
        thought = rng.choice(THOUGHTS).replace("{friend}", f"@{friend.username}")
        body = " ".join(part for part in (rng.choice(OPENERS), thought + ".", rng.choice(TAGS)) if part)
        posts.append(
            Post(author=author, body=body[:280], created_at=now - timedelta(minutes=7 * n + rng.randint(0, 6)))
        )
    Post.objects.bulk_create(posts, batch_size=500)
    posts = list(Post.objects.filter(reply_to__isnull=True, repost_of__isnull=True).select_related("author"))
    recent = sorted(posts, key=lambda p: p.created_at, reverse=True)[:300]

    extra = []
    for post in rng.sample(recent, 150):
        for _ in range(rng.randint(1, 3)):
            author_pk = rng.choice(fan_ids[:400] + [p.pk for p in people])
            body = rng.choice(REPLIES).replace("{author}", post.author.name)
            when = post.created_at + timedelta(minutes=rng.randint(1, 90))
            extra.append(Post(author_id=author_pk, body=body, reply_to=post, created_at=min(when, now)))
    for post in rng.sample(recent, 60):
        reposter = rng.choice(fan_ids[:400])
        when = min(post.created_at + timedelta(minutes=rng.randint(5, 120)), now)
        extra.append(Post(author_id=reposter, body="", repost_of=post, created_at=when))
    for post in rng.sample(recent, 20):
        quoter = rng.choice(people)
        when = min(post.created_at + timedelta(minutes=rng.randint(5, 120)), now)
        extra.append(Post(author=quoter, body=rng.choice(QUOTES), repost_of=post, created_at=when))
    Post.objects.bulk_create(extra, batch_size=500, ignore_conflicts=True)

    likes = []
    for post in recent:
        for pk in rng.sample(fan_ids[:600], rng.choice([0, 1, 2, 3, 5, 8, 13, 21, 34])):
            likes.append(Like(user_id=pk, post=post, created_at=now))
    Like.objects.bulk_create(likes, batch_size=2000, ignore_conflicts=True)

    names = {name for post in posts for name in hashtag_names(post.body)}
    Hashtag.objects.bulk_create([Hashtag(name=name) for name in names], ignore_conflicts=True)
    tag_ids = dict(Hashtag.objects.values_list("name", "pk"))
    Post.hashtags.through.objects.bulk_create(
        [Post.hashtags.through(post=post, hashtag_id=tag_ids[n]) for post in posts for n in hashtag_names(post.body)],
        ignore_conflicts=True,
    )
    _recount_conversations()
    _seed_gathered_notifications(host=User.objects.get(username="maya"))


def _recount_conversations() -> None:
    def count_of(model, field: str):
        rows = model.objects.filter(**{field: OuterRef("pk")}).values(field).annotate(n=Count("pk")).values("n")
        return Coalesce(Subquery(rows), 0)

    Post.objects.update(
        likes_count=count_of(Like, "post"),
        replies_count=count_of(Post, "reply_to"),
        reposts_count=count_of(Post, "repost_of"),
    )


def _seed_gathered_notifications(*, host: User) -> None:
    """What the demo host's bell shows: a few "X and N others liked your post" notices."""
    rows = []
    for post in Post.objects.filter(author=host, likes_count__gt=1).order_by("-likes_count")[:3]:
        latest = Like.objects.filter(post=post).select_related("user").order_by("-pk").first()
        snippet = post.body if len(post.body) <= 60 else post.body[:60] + "…"
        rows.append(
            Notification(
                recipient=host,
                actor=latest.user,
                kind=Notification.Kind.LIKE,
                group_key=f"like:post:{post.pk}",
                text=f"{latest.user.name} and {post.likes_count - 1} others liked your post “{snippet}”",
                url=post.get_absolute_url(),
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
