"""End to end in Debian's Chromium: a host's fake microphone plays English speech, a listener's room
page shows live captions of it, and the ended Space's page lists them.

The Space is started from the host's page, so the real lifecycle signal starts the captioner. With
no REDIS_URL the captioner runs in-process in the live Daphne server (the embedded default). With
REDIS_URL set it runs in a real Celery worker consuming the `captions` queue from the Redis broker
(in a thread of the test process, a different process from Daphne), so frames reach it through
Redis pub/sub and captions go back through the Redis channel layer.
"""

from __future__ import annotations

import re

import pytest

from captions.models import CaptionSegment
from tests.accounts.factories import UserFactory
from tests.browser.support import signed_in_page
from tests.captions.test_live import caption_worker, loaded_engine  # noqa: F401  (fixtures)
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, fake_microphone_args
from tests.rooms.factories import SpaceFactory, make_host
from tests.rooms.test_audio_browser import synthesise

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPEECH = "Welcome to the morning show about gardening."
KEYWORDS = ("morning", "gardening")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory) -> str:
    return synthesise(tmp_path_factory.mktemp("caption-speech"), SPEECH)


@pytest.fixture
def speaking_browser(browser_type, speech_wav):
    browser = browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            *fake_microphone_args(speech_wav),
        ],
    )
    yield browser
    browser.close()


@pytest.fixture
def captioning_daphne(request, monkeypatch, caption_worker):  # noqa: F811
    """The live Daphne of the rooms tests, with captioning on (it reads CAPTIONS_LIVE from our environment)."""
    monkeypatch.setenv("CAPTIONS_LIVE", "1")
    # As in test_live.py: on a loaded machine captions fall behind rather than skip words.
    monkeypatch.setenv("CAPTIONS_MAX_BACKLOG_MS", "120000")
    return request.getfixturevalue("live_daphne")


def test_a_listener_reads_live_captions_of_the_host_and_then_the_transcript(
    speaking_browser, captioning_daphne, settings
):
    settings.CAPTIONS_LIVE = True  # the Celery worker of the REDIS_URL mode runs in this process
    settings.CAPTIONS_MAX_BACKLOG_MS = 120_000
    host = make_host(username="maya", display_name="Maya")
    listener_user = UserFactory(username="sam", display_name="Sam")
    space = SpaceFactory(host=host, title="Garden hour")
    base = f"http://{captioning_daphne}"

    speaker = signed_in_page(speaking_browser, base, host, f"/spaces/{space.pk}/")
    speaker.get_by_role("button", name="Start now").click()
    speaker.locator("#mic-check meter").wait_for(timeout=15_000)

    listener = signed_in_page(speaking_browser, base, listener_user, f"/spaces/{space.pk}/")
    # Captions are on for a listener who never chose; the control says what it does, and the choice is kept.
    toggle = listener.get_by_role("button", name="Turn captions off")
    toggle.focus()
    listener.keyboard.press("Enter")  # keyboard, not the mouse
    listener.get_by_role("button", name="Turn captions on").wait_for()
    listener.wait_for_function("document.getElementById('captions-saved').textContent === 'Caption settings saved.'")
    listener.reload()
    listener.get_by_role("button", name="Turn captions on").click()
    listener.get_by_role("button", name="Turn captions off").wait_for()
    listener.wait_for_function("document.getElementById('captions-saved').textContent === 'Caption settings saved.'")

    # Starting the Space put the host on air.
    speaker.wait_for_function("document.getElementById('room').dataset.onAir === 'on-air'", timeout=15_000)
    log = listener.get_by_role("log", name="Captions")
    listener.wait_for_function(
        """(words) => { const text = document.getElementById('captions-log').textContent.toLowerCase();
                        return words.every((w) => text.includes(w)); }""",
        arg=list(KEYWORDS),
        timeout=180_000,
    )
    first = log.locator(".caption-line").first
    assert first.locator(".caption-speaker").inner_text().strip() == "Maya:"
    assert log.get_attribute("aria-live") == "polite"
    received = listener.evaluate("window.spacesCaptions.received")
    assert all(c["speaker_id"] == host.pk and c["speaker_name"] == "Maya" for c in received)

    # Pause: new captions wait while the log is scrolled back; resume shows them.
    listener.get_by_role("button", name="Pause").click()
    lines = log.locator(".caption-line").count()
    listener.get_by_role("button", name=re.compile(r"Resume live \(\d+ new\)")).wait_for(timeout=30_000)
    assert log.locator(".caption-line").count() == lines
    listener.get_by_role("button", name=re.compile("Resume live")).click()
    assert log.locator(".caption-line").count() > lines

    # The host withdraws consent: their voice goes on, captions of it stop.
    assert listener.locator("#captions-consent").is_hidden()  # a control for speakers only
    speaker.get_by_label("Caption my voice when I speak").uncheck()
    speaker.wait_for_function("document.getElementById('captions-saved').textContent === 'Caption settings saved.'")
    # The captioner says when it has stopped captioning the host; every caption it sent before comes first.
    listener.wait_for_function(
        "window.spacesCaptions.notices.some((n) => n.code === 'captions_declined')", timeout=120_000
    )
    finals = "window.spacesCaptions.received.filter((c) => c.final).length"
    before = listener.evaluate(finals)
    frames = listener.evaluate("window.spacesAudioStats.framesReceived")
    # The fake microphone loops the sentence: wait for 8 s more of the host's audio to reach the listener.
    listener.wait_for_function(f"window.spacesAudioStats.framesReceived >= {frames + 400}", timeout=60_000)
    assert listener.evaluate(finals) == before
    assert listener.evaluate("window.spacesAudioStats.framesReceived") > 0  # the audio itself never stopped

    speaker.once("dialog", lambda dialog: dialog.accept())
    speaker.get_by_role("button", name="End Space").click()
    listener.wait_for_url(re.compile(rf"/spaces/{space.pk}/$"))
    transcript = listener.locator("#transcript")
    transcript.wait_for(timeout=15_000)
    text = transcript.inner_text().lower()
    assert all(word in text for word in KEYWORDS), text
    assert "maya" in text
    assert re.search(r"00:0\d:\d\d", text)
    stored = " ".join(CaptionSegment.objects.filter(space=space).values_list("text", flat=True)).lower()
    assert all(word in stored for word in KEYWORDS)
    assert transcript.get_by_role("link", name="Download WebVTT").get_attribute("href").endswith("transcript.vtt")
