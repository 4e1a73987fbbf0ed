"""Questions from the audience: listeners ask in text; hosts and co-hosts upvote, pin one to the stage, answer.

An open question goes to the hosts, co-hosts and its author only; once pinned or answered the whole room
sees it (rooms/PROTOCOL.md, "Questions").
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Block, User
from spaces_site import ratelimit

from .events import broadcast
from .models import MANAGER_ROLES, Participant, Question, QuestionVote, Role, Space

ROOM_QUESTION_LIMIT = 200  # the most a socket is sent at once; the newest first
NOT_MANAGERS = [Role.SPEAKER, Role.LISTENER]


def question_payload(question: Question) -> dict:
    author = question.author
    return {
        "id": question.pk,
        "author_id": author.pk,
        "username": author.username,
        "name": author.name,
        "initial": author.initial,
        "text": question.text,
        "asked_at": question.asked_at.isoformat(),
        "votes": len(question.voter_ids),
        "voter_ids": question.voter_ids,
        "pinned": question.pinned_at is not None,
        "answered": question.answered_at is not None,
    }


def _with_voters(question: Question) -> Question:
    question.voter_ids = list(question.votes.order_by("created_at").values_list("user_id", flat=True))
    return question


def _announce(question: Question) -> None:
    event = {"type": "question", "question": question_payload(_with_voters(question))}
    if not question.public:
        # The consumer delivers it to these roles and to the author, whatever their role.
        event["only_roles"] = sorted(MANAGER_ROLES)
        event["also_user_ids"] = [question.author_id]
    broadcast(question.space_id, event)


def _hide(question: Question) -> None:
    """A question stops being public: everyone else drops it (the hosts and its author get `question`)."""
    broadcast(question.space_id, {"type": "question_hidden", "id": question.pk, "only_roles": NOT_MANAGERS})


def _clean_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationError("Write your question first.")
    text = " ".join(text.split())
    if len(text) > Question.MAX_LENGTH:
        raise ValidationError(f"A question can be at most {Question.MAX_LENGTH} characters; yours has {len(text)}.")
    return text


def _require_in_room(space: Space, user: User) -> Participant:
    if space.state != Space.State.LIVE:
        raise ValidationError("This Space is not live.")
    participant = Participant.objects.filter(space=space, user=user, removed_at__isnull=True).first()
    if participant is None:
        raise PermissionDenied("Join the Space to ask a question.")
    return participant


@transaction.atomic
def question_ask(*, space: Space, user: User, text: object) -> Question:
    _require_in_room(space, user)
    text = _clean_text(text)
    if Block.objects.filter(blocker_id=space.host_id, blocked=user).exists():
        raise PermissionDenied("The host has blocked you.")
    if Block.objects.filter(blocker=user, blocked_id=space.host_id).exists():
        raise PermissionDenied("You blocked the host; unblock them to ask a question.")
    ratelimit.check("question", user.pk)
    question = Question.objects.create(space=space, author=user, text=text)
    _announce(question)
    return question


def _managed_question(space: Space, by: User, question_id: int) -> Question:
    actor = _require_in_room(space, by)
    if actor.role not in MANAGER_ROLES:
        raise PermissionDenied("Only the host and co-hosts can do that.")
    question = Question.objects.select_related("author").select_for_update().filter(space=space, pk=question_id).first()
    if question is None:
        raise ValidationError("There is no such question in this Space.")
    return question


@transaction.atomic
def question_upvote(*, space: Space, by: User, question_id: int) -> Question:
    question = _managed_question(space, by, question_id)
    _, created = QuestionVote.objects.get_or_create(question=question, user=by)
    if not created:
        raise ValidationError("You already upvoted that question.")
    _announce(question)
    return question


@transaction.atomic
def question_pin(*, space: Space, by: User, question_id: int) -> Question:
    """Put the question on the stage; the one there before comes down (the stage shows one)."""
    question = _managed_question(space, by, question_id)
    if question.answered_at is not None:
        raise ValidationError("That question is already answered.")
    if question.pinned_at is not None:
        raise ValidationError("That question is already on the stage.")
    for previous in (
        Question.objects.select_related("author").select_for_update().filter(space=space, pinned_at__isnull=False)
    ):
        _unpin(previous)
    question.pinned_at = timezone.now()
    question.save(update_fields=["pinned_at"])
    _announce(question)
    return question


def _unpin(question: Question) -> None:
    question.pinned_at = None
    question.save(update_fields=["pinned_at"])
    if not question.public:
        _hide(question)
    _announce(question)


@transaction.atomic
def question_unpin(*, space: Space, by: User, question_id: int) -> Question:
    question = _managed_question(space, by, question_id)
    if question.pinned_at is None:
        raise ValidationError("That question is not on the stage.")
    _unpin(question)
    return question


@transaction.atomic
def question_answer(*, space: Space, by: User, question_id: int) -> Question:
    """Answered questions leave the stage and stay listed, marked answered, for everyone."""
    question = _managed_question(space, by, question_id)
    if question.answered_at is not None:
        raise ValidationError("That question is already answered.")
    question.answered_at = timezone.now()
    question.pinned_at = None
    question.save(update_fields=["answered_at", "pinned_at"])
    _announce(question)
    return question


def questions_for(*, space: Space, user: User) -> list[dict]:
    """What this person sees: every question for the hosts and co-hosts (but none from anyone blocked either
    way), the pinned and answered ones and their own for everyone else."""
    role = Participant.objects.filter(space=space, user=user, removed_at__isnull=True).values_list("role", flat=True)
    rows = Question.objects.filter(space=space).select_related("author")
    if role.first() in MANAGER_ROLES:
        rows = rows.exclude(author__in=Block.objects.filter(blocker=user).values("blocked"))
        rows = rows.exclude(author__in=Block.objects.filter(blocked=user).values("blocker"))
    else:
        rows = rows.filter(Q(pinned_at__isnull=False) | Q(answered_at__isnull=False) | Q(author=user))
    questions = list(rows.order_by("-asked_at")[:ROOM_QUESTION_LIMIT])
    voters: dict[int, list[int]] = {question.pk: [] for question in questions}
    for question_id, user_id in QuestionVote.objects.filter(question__in=questions).values_list("question", "user"):
        voters[question_id].append(user_id)
    for question in questions:
        question.voter_ids = voters[question.pk]
    return [question_payload(question) for question in questions]
