"""Caption accuracy through a real browser: what Chromium's microphone path and WebCodecs' Opus do to the words.

bench/captions_wer.py's thirty sentences, spoken by espeak-ng into one recording 1.5 s apart, are played by
Chromium's fake microphone into a speaker page (tests/rooms/pages/audio.html, which captures as a Space's page
does: rooms/static/rooms/audio/capture.js, getUserMedia with echo cancellation, noise suppression and gain
control, WebCodecs Opus). The frames the page sends are kept and recognised as the captioner recognises a
speaker (captions/audio.py's decoder, then the Whisper engine's live recogniser: Silero cuts, finals decoded
with a beam of 5; partials are not decoded, they do not change the finals). The same recording is recognised
the same way from its 16 kHz PCM and from frames encoded as the tests and benches encode a page's audio
(tests/captions/speech.py), so the three figures differ only by the audio path.

Prints the WER of each path's finals, joined, against the sentences, joined (about 270 words; one word is
0.004), and the finals themselves with --show. Takes about two minutes (the browser captures in real time).

    .venv/bin/python bench/captions_browser_wer.py [--show]
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")
import django  # noqa: E402

django.setup()
import numpy as np  # noqa: E402

from bench.captions_wer import PROMPT, SENTENCES, decoded, through_opus  # noqa: E402
from bench.word_errors import word_errors  # noqa: E402
from captions.engines import ENGINE_WHISPER, VadConfig, WhisperEngine, WhisperRecogniser, build_engine  # noqa: E402
from tests.captions.speech import silence, speak  # noqa: E402
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, fake_microphone_args  # noqa: E402
from tests.daphne import daphne_server  # noqa: E402

GAP_MS = 1_500
FRAME_BYTES = 20 * 32  # 20 ms of 16 kHz PCM16
NO_PARTIALS = VadConfig(partial_after_ms=10**9)

# Every binary message the page sends on its sockets, base64 encoded, in order.
KEEP_SENT_FRAMES = """
window.sentFrames = [];
const pageSend = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data !== "string") {
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    window.sentFrames.push(btoa(text));
  }
  return pageSend.call(this, data);
};
"""


def recording(folder: Path) -> tuple[bytes, Path]:
    """The sentences as 16 kHz PCM16 (normalised as the browser tests' WAVs are) and the 48 kHz WAV Chromium plays."""
    pcm = silence(1_000) + b"".join(speak(text) + silence(GAP_MS) for text in SENTENCES) + silence(2_000)
    raw, wav16, wav48 = folder / "speech.raw", folder / "speech16.wav", folder / "speech48.wav"
    raw.write_bytes(pcm)
    source = ["sox", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1", str(raw)]
    subprocess.run([*source, str(wav16), "norm", "-3"], check=True, capture_output=True)
    subprocess.run([*source, "-r", "48000", "-b", "16", str(wav48), "norm", "-3"], check=True, capture_output=True)
    normalised = subprocess.run(
        ["sox", str(wav16), "-t", "raw", "-e", "signed", "-b", "16", "-"], check=True, capture_output=True
    ).stdout
    return normalised, wav48


def frames_from_chromium(wav48: Path, seconds: float) -> list[bytes]:
    """What a speaker page sends while Chromium's fake microphone plays `wav48` once."""
    from playwright.sync_api import sync_playwright

    env = {
        "DJANGO_SETTINGS_MODULE": "spaces_site.settings.base",
        "SPACES_MEDIA_REDIS_PREFIX": f"bench.{uuid.uuid4().hex}",
        "SPACES_BENCH_PAGES": str(ROOT / "tests" / "rooms" / "pages"),
    }
    args = [*CHROMIUM_ARGS, *fake_microphone_args(str(wav48))]
    with daphne_server("tests.rooms.media_asgi:application", env) as port, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page()
        page.add_init_script(KEEP_SENT_FRAMES)
        page.goto(f"http://127.0.0.1:{port}/pages/audio.html?role=speaker&index=0")
        page.wait_for_function("window.audioTest && (window.audioTest.ready || window.audioTest.error)")
        if page.evaluate("window.audioTest.error || null"):
            raise SystemExit(f"the speaker page failed: {page.evaluate('window.audioTest.error')}")
        print(f"capturing {seconds:.0f} s in Chromium ({page.evaluate('window.audioTest.speaker.format')})", flush=True)
        frames = int(seconds * 50)
        page.wait_for_function(
            f"window.audioTest.speaker.stats.framesSent >= {frames}", timeout=(seconds + 60) * 1000, polling=500
        )
        page.evaluate("window.audioTest.speaker.stop()")
        sent = [base64.b64decode(frame) for frame in page.evaluate("window.sentFrames")]
        browser.close()
    return sent[:frames]


def recognise(engine: WhisperEngine, pcm16: bytes) -> list[str]:
    """The finals the live recogniser gives for `pcm16` fed 20 ms at a time."""
    recogniser = WhisperRecogniser(engine, NO_PARTIALS)
    recogniser.prompt = PROMPT
    finals = []
    for i in range(0, len(pcm16), FRAME_BYTES):
        finals += [result.text for result in recogniser.feed(pcm16[i : i + FRAME_BYTES]) if result.final]
    finals += [result.text for result in recogniser.finish() if result.final]
    return finals


def report(engine: WhisperEngine, name: str, pcm16: bytes, show: bool) -> None:
    finals = recognise(engine, pcm16)
    wrong, total = word_errors(" ".join(SENTENCES), " ".join(finals))
    print(f"{name:9s} wer={wrong / total:.3f} finals={len(finals)} words={total}", flush=True)
    if show:
        print("  " + " | ".join(finals), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--show", action="store_true", help="print each path's finals")
    args = parser.parse_args()
    engine = build_engine(ENGINE_WHISPER)  # the model CAPTIONS_WHISPER_MODEL names
    with tempfile.TemporaryDirectory() as folder:
        pcm16, wav48 = recording(Path(folder))
        seconds = len(pcm16) / 32_000
        browser_frames = frames_from_chromium(wav48, seconds)
    report(engine, "pcm", pcm16, args.show)
    report(engine, "opus", through_opus(pcm16), args.show)
    report(engine, "chromium", decoded(browser_frames), args.show)
    samples = np.abs(np.frombuffer(decoded(browser_frames), dtype=np.int16).astype(np.int32))
    source = np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32))
    peak, clipped = samples.max() / 32768, np.mean(samples >= 0.98 * 32768)
    print(
        f"chromium's frames: {len(browser_frames)}; peak {peak:.2f} (source {source.max() / 32768:.2f}), samples at"
        f" 0.98 of full scale or more {clipped:.4%} (source {np.mean(source >= 0.98 * 32768):.4%})",
        flush=True,
    )


if __name__ == "__main__":
    main()
