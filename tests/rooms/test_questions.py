"""Questions from the audience: the rules (rooms/questions.py) and who hears of them over the socket."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from accounts.models import Block
from rooms import questions
from rooms.models import Question, Space
from spaces_site.ratelimit import RateLimited
from tests.accounts.factories import UserFactory
from tests.personas import seat
from tests.sockets import joined, next_matching, next_of


@pytest.fixture
def room(live_space, host, cohost, listener):
    """Maya hosts with Ivy as co-host; Sam listens."""
    seat(live_space, listener)
    return live_space


def ask(space, user, text="What synth is that?"):
    return questions.question_ask(space=space, user=user, text=text)


@pytest.mark.django_db
class TestRules:
    def test_a_listener_asks_and_the_text_is_tidied(self, room, listener):
        question = ask(room, listener, "  What   synth\n is that?  ")
        assert question.text == "What synth is that?"
        assert not question.public

    @pytest.mark.parametrize("text", ["", "   ", None, 42])
    def test_an_empty_question_is_refused_clearly(self, room, listener, text):
        with pytest.raises(ValidationError, match="Write your question first."):
            ask(room, listener, text)

    def test_a_question_longer_than_the_limit_says_how_long_it_is(self, room, listener):
        with pytest.raises(ValidationError, match="at most 280 characters; yours has 281"):
            ask(room, listener, "a" * 281)
        assert ask(room, listener, "a" * 280).text == "a" * 280

    def test_asking_is_rate_limited_per_person(self, room, listener, settings):
        settings.RATE_LIMITS = {**settings.RATE_LIMITS, "question": (2, 60)}
        ask(room, listener)
        ask(room, listener)
        with pytest.raises(RateLimited, match="asking questions too fast"):
            ask(room, listener)
        assert Question.objects.filter(author=listener).count() == 2

    def test_someone_the_host_blocked_cannot_ask(self, room, host, listener):
        Block.objects.create(blocker=host, blocked=listener)
        with pytest.raises(PermissionDenied, match="The host has blocked you."):
            ask(room, listener)

    def test_someone_who_blocked_the_host_is_told_to_unblock_first(self, room, host, listener):
        Block.objects.create(blocker=listener, blocked=host)
        with pytest.raises(PermissionDenied, match="unblock them"):
            ask(room, listener)

    def test_removed_people_and_ended_spaces_take_no_questions(self, room, listener):
        room.participants.filter(user=listener).update(removed_at=room.started_at)
        with pytest.raises(PermissionDenied, match="Join the Space"):
            ask(room, listener)
        room.state = Space.State.ENDED
        with pytest.raises(ValidationError, match="not live"):
            ask(room, UserFactory())

    def test_only_hosts_and_cohosts_manage_questions(self, room, listener):
        question = ask(room, listener)
        for action in (questions.question_upvote, questions.question_pin, questions.question_answer):
            with pytest.raises(PermissionDenied, match="Only the host and co-hosts"):
                action(space=room, by=listener, question_id=question.pk)

    def test_upvotes_count_once_per_manager(self, room, host, cohost, listener):
        question = ask(room, listener)
        questions.question_upvote(space=room, by=host, question_id=question.pk)
        questions.question_upvote(space=room, by=cohost, question_id=question.pk)
        with pytest.raises(ValidationError, match="already upvoted"):
            questions.question_upvote(space=room, by=host, question_id=question.pk)
        [listed] = questions.questions_for(space=room, user=host)
        assert listed["votes"] == 2 and set(listed["voter_ids"]) == {host.pk, cohost.pk}

    def test_the_stage_shows_one_question_and_answering_takes_it_down(self, room, host, cohost, listener):
        other = UserFactory()
        seat(room, other)
        first, second = ask(room, listener, "First?"), ask(room, other, "Second?")
        questions.question_pin(space=room, by=host, question_id=first.pk)
        questions.question_pin(space=room, by=cohost, question_id=second.pk)
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.pinned_at is None and second.pinned_at is not None
        questions.question_answer(space=room, by=host, question_id=second.pk)
        second.refresh_from_db()
        assert second.answered_at is not None and second.pinned_at is None
        with pytest.raises(ValidationError, match="already answered"):
            questions.question_pin(space=room, by=host, question_id=second.pk)

    def test_the_database_holds_one_pinned_question_per_space(self, room, listener):
        first, second = ask(room, listener, "First?"), ask(room, listener, "Second?")
        Question.objects.filter(pk=first.pk).update(pinned_at=room.started_at)
        with pytest.raises(IntegrityError):
            Question.objects.filter(pk=second.pk).update(pinned_at=room.started_at)

    def test_a_question_of_another_space_is_not_found(self, room, host, listener):
        with pytest.raises(ValidationError, match="no such question"):
            questions.question_pin(space=room, by=host, question_id=ask(room, listener).pk + 1000)

    def test_listeners_see_their_own_and_the_public_questions_hosts_see_all(self, room, host, listener):
        mine = ask(room, listener, "Mine?")
        other = UserFactory()
        seat(room, other)
        theirs, pinned = ask(room, other, "Theirs?"), ask(room, other, "Pinned?")
        questions.question_pin(space=room, by=host, question_id=pinned.pk)
        seen = {q["text"]: q for q in questions.questions_for(space=room, user=listener)}
        assert set(seen) == {mine.text, pinned.text} and seen["Pinned?"]["pinned"]
        assert {q["id"] for q in questions.questions_for(space=room, user=host)} == {mine.pk, theirs.pk, pinned.pk}

    def test_a_host_does_not_see_questions_of_someone_blocked_either_way(self, room, host, cohost, listener):
        ask(room, listener)
        Block.objects.create(blocker=cohost, blocked=listener)
        assert questions.questions_for(space=room, user=cohost) == []
        assert len(questions.questions_for(space=room, user=host)) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
class TestOverTheSocket:
    async def test_a_question_goes_to_the_hosts_and_its_author_then_to_all_once_pinned(
        self, room, host, cohost, listener
    ):
        other = await _other_listener(room)
        host_ws, _ = await joined(host, room.pk)
        cohost_ws, _ = await joined(cohost, room.pk)
        listener_ws, _ = await joined(listener, room.pk)
        other_ws, _ = await joined(other, room.pk)

        await listener_ws.send_json_to({"type": "ask", "text": "What synth is that?"})
        for ws in (host_ws, cohost_ws, listener_ws):
            event = await next_of(ws, "question")
            assert event["question"]["text"] == "What synth is that?" and not event["question"]["pinned"]
            assert "only_roles" in event  # the routing travels with the event; clients ignore it
        question_id = event["question"]["id"]
        await other_ws.send_json_to({"type": "list_questions"})
        assert (await next_of(other_ws, "questions"))["questions"] == []  # the open question never reached Ivy's guest

        await host_ws.send_json_to({"type": "pin_question", "question_id": question_id})
        pinned = await next_matching(other_ws, "question", lambda e: e["question"]["pinned"])
        assert pinned["question"]["id"] == question_id
        await listener_ws.send_json_to({"type": "list_questions"})
        [listed] = (await next_of(listener_ws, "questions"))["questions"]
        assert listed["pinned"] is True

        await host_ws.send_json_to({"type": "unpin_question", "question_id": question_id})
        hidden = await next_of(other_ws, "question_hidden")
        assert hidden["id"] == question_id
        for ws in (host_ws, cohost_ws, listener_ws, other_ws):
            await ws.disconnect()

    async def test_bad_questions_and_actions_get_error_events(self, room, listener):
        listener_ws, _ = await joined(listener, room.pk)
        await listener_ws.send_json_to({"type": "ask", "text": "x" * 300})
        error = await next_of(listener_ws, "error")
        assert error["code"] == "invalid" and "yours has 300" in error["message"] and error["ref"] == "ask"
        await listener_ws.send_json_to({"type": "pin_question", "question_id": 1})
        error = await next_of(listener_ws, "error")
        assert error["code"] == "forbidden" and error["ref"] == "pin_question"
        await listener_ws.disconnect()

    async def test_a_manager_gets_an_error_for_a_question_id_that_is_not_a_number(self, room, host):
        host_ws, _ = await joined(host, room.pk)
        await host_ws.send_json_to({"type": "answer_question", "question_id": "7"})
        error = await next_of(host_ws, "error")
        assert error["code"] == "invalid" and "question_id" in error["message"]
        await host_ws.disconnect()


async def _other_listener(space):
    from channels.db import database_sync_to_async

    def make():
        other = UserFactory(username="noor", display_name="Noor")
        seat(space, other)
        return other

    return await database_sync_to_async(make)()
