"""Word error rate of the Whisper engine with and without a Space's prompt (title, topics, speakers' names).

Eight espeak-ng sentences no test uses (two name the speakers, two are on the Space's topics, four are
unrelated), each cut and decoded as the live path does (WhisperRecogniser, partials off), once without
and once with the prompt; prints WER and the CPU seconds of each pass.

    .venv/bin/python bench/captions_prompt.py          # THREADS=2 for two CPU threads per decode
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spaces_site.settings.dev")
import django  # noqa: E402

django.setup()
from bench.word_errors import word_errors  # noqa: E402
from captions.engines import VadConfig, WhisperEngine, WhisperRecogniser  # noqa: E402
from tests.captions.speech import silence, speak  # noqa: E402

TITLE, TOPICS, NAMES = "Sourdough and fermentation", "baking,kombucha", ["Priya Raman", "Tomasz Nowak"]
SENTENCES = [
    "Priya Raman keeps her sourdough starter in the fridge.",
    "Tomasz Nowak ferments kombucha with black tea.",
    "The lighthouse keeper painted the harbour wall bright orange.",
    "Our bakery sells warm cinnamon bread every Tuesday morning.",
    "The orchestra rehearsed the symphony twice before the concert.",
    "Fermentation needs patience, warmth and a clean jar.",
    "Tomasz asked Priya how long the dough should rest.",
    "A narrow bridge crosses the canal near the old mill.",
]


engine = WhisperEngine(cpu_threads=int(os.environ.get("THREADS", "1")))
prompt = engine.prompt_for(title=TITLE, topics=TOPICS, names=NAMES)
audio = [silence(300) + speak(s) + silence(700) for s in SENTENCES]
for label, p in (("no prompt", ""), ("prompt", prompt)):
    errs = words = 0
    t0 = time.process_time()
    outs = []
    for ref, pcm in zip(SENTENCES, audio, strict=True):
        rec = WhisperRecogniser(engine, VadConfig(partial_every_ms=10**9))
        rec.prompt = p
        out = []
        for i in range(0, len(pcm), 640):
            out += rec.feed(pcm[i : i + 640])
        out += rec.finish()
        hyp = " ".join(r.text for r in out if r.final)
        e, n = word_errors(ref, hyp)
        errs += e
        words += n
        outs.append(hyp)
    print(f"{label}: wer={errs / words:.3f} ({errs}/{words}) cpu_s={time.process_time() - t0:.1f}")
    for o in outs:
        print("   ", o)
print("prompt:", prompt)
