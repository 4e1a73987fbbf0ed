"""Where caption words are lost: the Whisper engine's word error rate on the same speech through each audio path.

Thirty espeak-ng sentences that no test and no other bench uses, each with 300 ms of silence around it, decoded
as one utterance (the engine's final decode: beam 5, the 10 s encoder window) after each of these paths:

- `pcm`: the 16 kHz PCM straight into the model (no browser, no codec): what the model itself can do;
- `opus`: encoded as a speaker's page encodes it (48 kHz mono Opus, 32 kbit/s, `audio`, 20 ms frames;
  tests/captions/speech.py) and decoded as the captioner decodes it (captions/audio.py);
- `opus-voip`: the same with Opus's `voip` application, which the page used until it was measured here;
- `opus-greedy`: the same, decoded greedily (as partials are);
- `opus-no-prompt` against `opus` primed with a Space's title and topics.

Each path is measured with the speech starting at `--alignments` offsets dividing one Opus frame evenly
(0, 2.5, ... 17.5 ms more leading silence): moving clean PCM by 6.5 ms (Opus's own delay) alone moved WER on these
thirty sentences from 0.089 to 0.118, and by 10 ms to 0.137, as much as any path's difference, so one alignment
measures where the audio happens to fall on Whisper's 10 ms mel frames more than the path. Prints per path the
mean WER over the alignments, their range, and the CPU seconds. The int8 decode on two threads is not repeatable
to the token either (two runs of the same path differ by up to 0.01 in the mean).

    .venv/bin/python bench/captions_wer.py [--alignments 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")
import django  # noqa: E402

django.setup()
import numpy as np  # noqa: E402

from bench.word_errors import word_errors  # noqa: E402
from captions.audio import StreamDecoder  # noqa: E402
from captions.engines import ENGINE_WHISPER, WhisperEngine, build_engine  # noqa: E402
from tests.captions.speech import opus_frames, silence, speak  # noqa: E402

PROMPT = "Saturday in the neighbourhood. Topics: gardens, travel, food."
SENTENCES = [
    "The gardener trimmed the hedges before the summer festival.",
    "My cousin repairs old radios in his small workshop.",
    "We watched the sunset from the top of the hill.",
    "The library will close early on Friday afternoon.",
    "Fresh tomatoes taste better when they ripen on the vine.",
    "The pilot announced a short delay because of fog.",
    "Her grandmother knitted a blue scarf for the winter.",
    "The children built a castle out of wet sand.",
    "A loud thunderstorm woke everyone in the village.",
    "The chef added a pinch of salt to the soup.",
    "Students must hand in their essays by next Monday.",
    "The river flooded the fields after three days of rain.",
    "He forgot his umbrella on the crowded bus.",
    "The new stadium can hold forty thousand people.",
    "Our team finished the project two weeks ahead of schedule.",
    "The cat slept all afternoon on the warm windowsill.",
    "Please turn off the lights when you leave the room.",
    "The doctor recommended more exercise and less sugar.",
    "They planted sunflowers along the edge of the garden.",
    "The museum guide explained the history of the castle.",
    "A flock of geese flew south over the frozen lake.",
    "The mechanic replaced the brakes on my old car.",
    "We are planning a picnic by the lake on Sunday.",
    "The singer thanked the audience after the final song.",
    "Bright lanterns lit the street during the night market.",
    "The company hired twenty engineers this spring.",
    "I left my keys on the kitchen table this morning.",
    "The baby laughed when the puppy licked her hand.",
    "Snow covered the mountains long before the winter began.",
    "The ferry crosses the bay every hour until midnight.",
]


def decoded(frames: list[bytes]) -> bytes:
    """A speaker's client frames decoded as the captioner decodes them, as 16 kHz PCM16."""
    decoder = StreamDecoder()
    return b"".join(chunk.pcm16 for frame in frames for chunk in decoder.decode(frame))


def through_opus(pcm16: bytes, application: str = "audio") -> bytes:
    return decoded(opus_frames(pcm16, application=application))


def measure(engine: WhisperEngine, name: str, runs: list[list[tuple[str, bytes]]], *, beam: int, prompt: str) -> None:
    """WER of each run (the same sentences at one alignment), printed as their mean and range."""
    rates = []
    started = time.process_time()
    for clips in runs:
        errors = words = 0
        for text, pcm16 in clips:
            audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
            wrong, total = word_errors(text, engine._transcribe(audio, prompt, beam_size=beam))
            errors, words = errors + wrong, words + total
        rates.append(errors / words)
    print(
        f"{name:15s} wer={statistics.mean(rates):.3f} range={min(rates):.3f}-{max(rates):.3f} "
        f"alignments={len(rates)} cpu_s={time.process_time() - started:.1f} words={words}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alignments", type=int, default=8, help="offsets of the speech within one 20 ms frame")
    args = parser.parse_args()
    engine = build_engine(ENGINE_WHISPER)  # the model CAPTIONS_WHISPER_MODEL names
    speech = [(text, speak(text)) for text in SENTENCES]
    offsets_ms = [20 * n / args.alignments for n in range(args.alignments)]
    spoken = [
        [(text, silence(300) + bytes(2 * int(16 * ms)) + pcm16 + silence(300)) for text, pcm16 in speech]
        for ms in offsets_ms
    ]
    coded = [[(text, through_opus(pcm16)) for text, pcm16 in clips] for clips in spoken]
    measure(engine, "pcm", spoken, beam=5, prompt=PROMPT)
    measure(engine, "opus", coded, beam=5, prompt=PROMPT)
    voip = [[(text, through_opus(pcm16, "voip")) for text, pcm16 in clips] for clips in spoken]
    measure(engine, "opus-voip", voip, beam=5, prompt=PROMPT)
    measure(engine, "opus-greedy", coded, beam=1, prompt=PROMPT)
    measure(engine, "opus-no-prompt", coded, beam=5, prompt="")


if __name__ == "__main__":
    main()
