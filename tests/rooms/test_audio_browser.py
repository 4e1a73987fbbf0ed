"""End to end in Debian's Chromium: a speaker page captures a speech WAV, a listener page decodes and plays it."""

from __future__ import annotations

import math
import subprocess
import wave

import pytest
from playwright.sync_api import expect

from tests.browser.support import SHOTS, shoot, signed_in_page, wait_for
from tests.chromium import fake_microphone_args

pytestmark = pytest.mark.browser

OTHER_SPEECH = "Seven green boxes arrived on Monday, and nobody could open them until the evening."
SPEECH = "Welcome to the space. Today we talk about live audio, listeners, and speakers around the world."


def synthesise(folder, text: str) -> str:
    """A sentence spoken by espeak-ng, turned by sox into 48 kHz mono 16-bit with a little silence around it."""
    raw, wav = folder / "raw.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-s", "150", "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", "48000", "-c", "1", "-b", "16", str(wav), "norm", "-3", "pad", "0.2", "0.2"],
        check=True,
        capture_output=True,
    )
    return str(wav)


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> str:
    return synthesise(tmp_path_factory.mktemp("speech"), SPEECH)


@pytest.fixture(scope="session")
def other_speech_wav(tmp_path_factory) -> str:
    return synthesise(tmp_path_factory.mktemp("other-speech"), OTHER_SPEECH)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, speech_wav):
    # The shared launch configuration (tests/conftest.py, tests/chromium.py) plus a fake microphone playing the WAV.
    return {
        **browser_type_launch_args,
        "args": [
            *browser_type_launch_args["args"],
            *fake_microphone_args(speech_wav),
        ],
    }


@pytest.fixture
def audio_browser(browser_type, browser_type_launch_args):
    # Launched here rather than through the shared `browser` fixture so the fake microphone is always this WAV.
    browser = browser_type.launch(**browser_type_launch_args)
    yield browser
    browser.close()


def envelope(samples: list[float], window: int) -> list[float]:
    return [
        math.sqrt(sum(x * x for x in samples[i : i + window]) / window)
        for i in range(0, len(samples) - window + 1, window)
    ]


def pearson(a: list[float], b: list[float]) -> float:
    n = len(a)
    mean_a, mean_b = sum(a) / n, sum(b) / n
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / math.sqrt(var_a * var_b) if var_a and var_b else 0.0


def best_loop_correlation(decoded_env: list[float], source_env: list[float]) -> float:
    """Highest correlation of the decoded envelope with the looping source envelope at any offset."""
    looped = source_env * (len(decoded_env) // len(source_env) + 2)
    return max(pearson(decoded_env, looped[lag : lag + len(decoded_env)]) for lag in range(len(source_env)))


def source_samples_16k(path: str) -> list[float]:
    with wave.open(path) as wav:
        frames = wav.readframes(wav.getnframes())
    pcm = memoryview(frames).cast("h")
    return [(pcm[i] + pcm[i + 1] + pcm[i + 2]) / 3 / 32768 for i in range(0, len(pcm) - 2, 3)]


# Counts the blocks the capture worklet hands the page (20 ms of microphone audio each, sent or not).
COUNT_CAPTURED_BLOCKS = """
window.capturedBlocks = 0;
const handler = Object.getOwnPropertyDescriptor(MessagePort.prototype, "onmessage");
Object.defineProperty(MessagePort.prototype, "onmessage", {
  configurable: true,
  get() { return handler.get.call(this); },
  set(listener) {
    handler.set.call(this, listener && function (event) {
      if (event.data && "rms" in event.data) window.capturedBlocks += 1;
      return listener.call(this, event);
    });
  },
});
"""


def open_page(browser, base: str, query: str, init_script: str | None = None):
    page = browser.new_context().new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{base}/pages/audio.html?{query}")
    page.wait_for_function("window.audioTest && (window.audioTest.ready || window.audioTest.error)")
    assert page.evaluate("window.audioTest.error || null") is None
    return page


def speak_and_collect(audio_browser, media_server, speaker_query: str, seconds: float = 4.0):
    listener = open_page(audio_browser, media_server, "role=listener")
    speaker = open_page(audio_browser, media_server, speaker_query)
    speaker.wait_for_function(f"window.audioTest.speaker.stats.framesSent >= {int(seconds * 50)}", timeout=60_000)
    sent = speaker.evaluate("window.audioTest.speaker.stop().then(() => window.audioTest.speaker.stats.framesSent)")
    wait_for(listener, f"window.spacesAudioStats.framesReceived >= {sent}", timeout=15_000)
    wait_for(listener, f"window.spacesAudioStats.framesDecoded >= {sent}", timeout=15_000)
    return speaker, listener, sent


def assert_decoded_is_the_speech(listener, speech_wav: str, other_speech_wav: str) -> None:
    decoded = listener.evaluate("window.audioTest.recording16k(0)")
    rms = math.sqrt(sum(x * x for x in decoded) / len(decoded))
    assert rms > 0.01, f"decoded audio is silent (rms {rms:.4f})"
    decoded_env = envelope(decoded, 160)
    correlation = best_loop_correlation(decoded_env, envelope(source_samples_16k(speech_wav), 160))
    # The same search against another sentence shows what correlation chance alone reaches.
    chance = best_loop_correlation(decoded_env, envelope(source_samples_16k(other_speech_wav), 160))
    print(f"decoded rms {rms:.3f}, envelope correlation {correlation:.2f} (another sentence: {chance:.2f})")
    assert correlation > 0.5, f"decoded audio does not follow the source (envelope correlation {correlation:.2f})"
    assert correlation > chance + 0.2, f"source {correlation:.2f} is no better than another sentence {chance:.2f}"


def test_listener_plays_what_the_speaker_page_captures_with_opus(
    audio_browser, media_server, speech_wav, other_speech_wav
):
    speaker, listener, sent = speak_and_collect(audio_browser, media_server, "role=speaker&index=0")
    assert speaker.evaluate("window.audioTest.speaker.format") == "opus"
    assert sent >= 150  # 4 s of 20 ms frames, less start-up
    stats = listener.evaluate("window.spacesAudioStats")
    assert stats["framesReceived"] == sent
    assert stats["framesLost"] == 0
    assert stats["speakers"]["0"]["framesReceived"] == sent
    assert_decoded_is_the_speech(listener, speech_wav, other_speech_wav)
    assert "frames" in listener.inner_text("#debug")


def test_pcm16_fallback_reaches_the_listener_as_the_same_speech(
    audio_browser, media_server, speech_wav, other_speech_wav
):
    speaker, listener, sent = speak_and_collect(audio_browser, media_server, "role=speaker&index=0&pcm=1")
    assert speaker.evaluate("window.audioTest.speaker.format") == "pcm16"
    assert listener.evaluate("window.spacesAudioStats.framesReceived") == sent
    assert_decoded_is_the_speech(listener, speech_wav, other_speech_wav)


def test_two_speakers_are_decoded_separately_and_mixed(audio_browser, media_server, speech_wav, other_speech_wav):
    listener = open_page(audio_browser, media_server, "role=listener")
    first = open_page(audio_browser, media_server, "role=speaker&index=0")
    second = open_page(audio_browser, media_server, "role=speaker&index=1")
    for page in (first, second):
        page.wait_for_function("window.audioTest.speaker.stats.framesSent >= 150", timeout=60_000)  # 3 s each
    sent = [
        page.evaluate("window.audioTest.speaker.stop().then(() => window.audioTest.speaker.stats.framesSent)")
        for page in (first, second)
    ]
    wait_for(listener, f"window.spacesAudioStats.framesReceived >= {sum(sent)}", timeout=15_000)
    wait_for(listener, f"window.spacesAudioStats.framesDecoded >= {sum(sent)}", timeout=15_000)
    stats = listener.evaluate("window.spacesAudioStats")
    assert [stats["speakers"][i]["framesReceived"] for i in ("0", "1")] == sent
    assert all(stats["speakers"][i]["peakLevel"] > 0.02 for i in ("0", "1"))
    assert_decoded_is_the_speech(listener, speech_wav, other_speech_wav)
    second_voice = listener.evaluate("window.audioTest.recording16k(1)")
    assert math.sqrt(sum(x * x for x in second_voice) / len(second_voice)) > 0.01
    mix = listener.evaluate("window.audioTest.mix16k()")
    assert math.sqrt(sum(x * x for x in mix) / len(mix)) > 0.01
    assert max(abs(x) for x in mix) <= 1.0  # soft-clipped, never past full scale
    level = listener.locator('[data-speaker-index="1"]').evaluate("el => el.style.getPropertyValue('--audio-level')")
    assert 0 <= float(level) <= 1


def test_self_mute_stops_frames_at_the_source(audio_browser, media_server):
    listener = open_page(audio_browser, media_server, "role=listener")
    speaker = open_page(audio_browser, media_server, "role=speaker&index=0", init_script=COUNT_CAPTURED_BLOCKS)
    speaker.wait_for_function("window.audioTest.speaker.stats.framesSent > 50")
    speaker.evaluate("window.audioTest.speaker.setMuted(true)")
    # Blocks the encoder already holds may still come out: count from 5 captured blocks (100 ms) later.
    speaker.wait_for_function(f"window.capturedBlocks >= {speaker.evaluate('window.capturedBlocks') + 5}")
    muted_at = speaker.evaluate("window.audioTest.speaker.stats.framesSent")
    # The microphone goes on capturing: 75 more blocks (1.5 s of audio) reach the muted capture.
    speaker.wait_for_function(f"window.capturedBlocks >= {speaker.evaluate('window.capturedBlocks') + 75}")
    assert speaker.evaluate("window.audioTest.speaker.stats.framesSent") == muted_at
    assert speaker.evaluate("window.audioTest.speaker.muted") is True
    listener.wait_for_function(f"window.spacesAudioStats.framesReceived >= {muted_at}", timeout=10_000)
    assert listener.evaluate("window.spacesAudioStats.framesReceived") == muted_at
    speaker.evaluate("window.audioTest.speaker.setMuted(false)")
    speaker.wait_for_function(f"window.audioTest.speaker.stats.framesSent > {muted_at + 25}")


def test_listener_reconnects_and_keeps_playing(audio_browser, media_server):
    listener = open_page(audio_browser, media_server, "role=listener")
    speaker = open_page(audio_browser, media_server, "role=speaker&index=0")
    listener.wait_for_function("window.spacesAudioStats.framesDecoded > 50", timeout=10_000)
    listener.evaluate("window.audioTest.reconnect()")
    before = listener.evaluate("window.spacesAudioStats.framesDecoded")
    listener.wait_for_function(f"window.spacesAudioStats.framesDecoded > {before + 50}", timeout=10_000)
    stats = listener.evaluate("window.spacesAudioStats")
    sent = speaker.evaluate("window.audioTest.speaker.stats.framesSent")
    assert stats["decodeErrors"] == 0
    # Frames relayed while the socket was down are counted lost; everything else arrived.
    assert stats["framesReceived"] + stats["framesLost"] <= sent
    assert stats["framesReceived"] > before


RECORD_SOCKET_CLOSES = """
window.socketCloses = [];
const PageWebSocket = window.WebSocket;
window.WebSocket = class extends PageWebSocket {
  constructor(...args) {
    super(...args);
    this.addEventListener("close", (closed) => window.socketCloses.push(closed.code));
  }
};
"""


def room_page(browser, base: str, user, path: str):
    """`path` for `user`, signed in, recording its sockets' close codes in `window.socketCloses`."""
    page = signed_in_page(browser, base, user)
    page.add_init_script(RECORD_SOCKET_CLOSES)
    page.goto(path)
    return page


def host_and_listener(audio_browser, live_daphne):
    from tests.accounts.factories import UserFactory
    from tests.rooms.factories import LiveSpaceFactory, make_host

    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Voices")
    base = f"http://{live_daphne}"
    listener = room_page(audio_browser, base, UserFactory(username="sam"), f"/spaces/{space.pk}/?record-audio")
    listener.wait_for_function("window.spacesAudioPlayer !== undefined", timeout=15_000)
    speaker = room_page(audio_browser, base, host, f"/spaces/{space.pk}/")
    # The host is on air from the start: no extra step.
    speaker.locator("#mic-check meter").wait_for(timeout=15_000)
    return speaker, listener


def stop_and_count_received(speaker, listener) -> int:
    sent = speaker.evaluate("window.spacesAudioSpeaker.stop().then(() => window.spacesAudioSpeaker.stats.framesSent)")
    wait_for(listener, f"window.spacesAudioStats.framesReceived >= {sent}", timeout=15_000)
    stats = listener.evaluate("window.spacesAudioStats")
    assert stats["framesReceived"] == sent
    assert stats["speakers"]["0"]["framesReceived"] == sent
    return sent


@pytest.mark.django_db(transaction=True)
def test_real_room_pages_carry_the_hosts_voice_to_a_listener(audio_browser, live_daphne, speech_wav, other_speech_wav):
    speaker, listener = host_and_listener(audio_browser, live_daphne)
    # Past SPACES_MEDIA_ACK_LAG_MS (5 s): both pages must acknowledge what they read, or they are dropped.
    speaker.wait_for_function(
        "window.spacesAudioSpeaker && window.spacesAudioSpeaker.stats.framesSent > 400", timeout=30_000
    )
    stop_and_count_received(speaker, listener)
    decoded = listener.evaluate(
        """() => { const full = window.spacesAudioPlayer.recording(0); const out = [];
                   for (let i = 0; i + 2 < full.length; i += 3) out.push((full[i] + full[i + 1] + full[i + 2]) / 3);
                   return out; }"""
    )
    rms = math.sqrt(sum(x * x for x in decoded) / len(decoded))
    assert rms > 0.01, f"decoded audio is silent (rms {rms:.4f})"
    decoded_env = envelope(decoded, 160)
    correlation = best_loop_correlation(decoded_env, envelope(source_samples_16k(speech_wav), 160))
    chance = best_loop_correlation(decoded_env, envelope(source_samples_16k(other_speech_wav), 160))
    assert correlation > 0.5 and correlation > chance + 0.2, (correlation, chance)
    assert speaker.evaluate("window.socketCloses") == [] and listener.evaluate("window.socketCloses") == []


@pytest.mark.django_db(transaction=True)
def test_a_speaker_page_that_stalls_sends_what_it_held_and_stays_on_air(audio_browser, live_daphne):
    speaker, listener = host_and_listener(audio_browser, live_daphne)
    speaker.wait_for_function(
        "window.spacesAudioSpeaker && window.spacesAudioSpeaker.stats.framesSent > 100", timeout=30_000
    )
    wait_for(listener, "window.spacesAudioStats.framesReceived > 50", timeout=15_000)  # listening already
    # The host's page freezes for 4 s (a busy tab, a slow device): the microphone's blocks queue up and the
    # page encodes and sends all 200 frames at once when it recovers, twice the guard's one-second rate.
    speaker.evaluate("() => { const until = performance.now() + 4000; while (performance.now() < until) {} }")
    after_stall = speaker.evaluate("window.spacesAudioSpeaker.stats.framesSent")
    speaker.wait_for_function(f"window.spacesAudioSpeaker.stats.framesSent > {after_stall + 250}", timeout=30_000)

    stop_and_count_received(speaker, listener)
    # Neither page was closed: not the host as a flooder (4429), not the listener as a slow one (4408).
    assert speaker.evaluate("window.socketCloses") == []
    assert listener.evaluate("window.socketCloses") == []


@pytest.fixture
def gesture_browser(browser_type, browser_type_launch_args):
    """A browser that, like a desktop Chrome, lets a page play sound only after a person has touched it."""
    args = [arg for arg in browser_type_launch_args["args"] if not arg.startswith("--autoplay-policy=")]
    browser = browser_type.launch(
        **{**browser_type_launch_args, "args": [*args, "--autoplay-policy=document-user-activation-required"]}
    )
    yield browser
    browser.close()


# What the page's audio did, in order, from before any script of the page runs, also told on the console.
# Playwright's own queries of a page (`evaluate`, locators) count as a person's gesture, and a page touched before
# its player starts plays at once: until the page offers "Turn on sound", the test only listens.
RECORD_SOUND = """
window.soundLog = [];
const note = (what) => { window.soundLog.push(what); console.log(`sound: ${what}`); };
addEventListener("click", (event) => note(event.isTrusted ? "click" : "scripted click"), true);
const PageAudioContext = window.AudioContext;
window.AudioContext = class extends PageAudioContext {
  constructor(...args) {
    super(...args);
    note(this.state);
    this.addEventListener("statechange", () => note(this.state));
  }
};
addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("enable-audio");
  new MutationObserver(() => button.hidden || note("offered")).observe(button, { attributes: true });
});
"""


@pytest.mark.django_db(transaction=True)
def test_a_browser_that_refuses_sound_until_touched_plays_the_space_after_the_first_click(
    audio_browser, gesture_browser, live_daphne
):
    """The first click anywhere turns the sound on and still does what it was for: here, captions go off."""
    from tests.accounts.factories import UserFactory
    from tests.rooms.factories import LiveSpaceFactory, make_host

    host = make_host(username="maya", display_name="Maya")
    space = LiveSpaceFactory(host=host, title="Voices")
    base = f"http://{live_daphne}"
    speaker = room_page(audio_browser, base, host, f"/spaces/{space.pk}/")
    speaker.wait_for_function("window.spacesAudioSpeaker && window.spacesAudioSpeaker.stats.framesSent > 0")
    sam = UserFactory(username="sam", display_name="Sam")
    listener = signed_in_page(gesture_browser, base, sam)
    listener.add_init_script(RECORD_SOUND)
    with listener.expect_console_message(lambda message: message.text == "sound: offered", timeout=30_000):
        listener.goto(f"/spaces/{space.pk}/")

    # The browser holds the sound back until Sam touches the page; the page offers to turn it on.
    assert listener.evaluate("window.soundLog") == ["suspended", "offered"]
    turn_on = listener.get_by_role("button", name="Turn on sound")
    expect(turn_on).to_be_visible()
    expect(listener.locator("#room")).to_have_attribute("data-connected", "true")
    for width in (390, 1280):  # not `shoot`: it asks the page for its width, which would count as a gesture
        listener.set_viewport_size({"width": width, "height": 900})
        listener.screenshot(path=SHOTS / f"room-sound-refused-{width}.png", full_page=True)

    # Sam's first click is on "Turn captions off", below "Turn on sound": the page must not move under it.
    listener.get_by_role("button", name="Turn captions off").click()
    expect(listener.get_by_role("button", name="Turn captions on")).to_be_visible()
    expect(turn_on).to_be_hidden()
    assert listener.evaluate("window.soundLog")[2:4] == ["click", "running"]
    # The mixer plays the host's voice: its level for speaker 0 rises above silence.
    wait_for(listener, "(window.spacesAudioStats.speakers['0']?.peakLevel ?? 0) > 0.01", timeout=15_000)
    shoot(listener, "room-sound-on")
    assert listener.errors == []
