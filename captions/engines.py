"""Speech recognisers behind one small interface; the only module that imports a recogniser.

An engine holds one model per worker process, loaded lazily on first use after the worker has
forked, and shared by every speaker stream the process serves. `engine.start()` opens one
recogniser for one speaker stream; `feed()` takes 16 kHz mono PCM16 and returns partial and
final results; `finish()` flushes what is left at the end of the stream.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import whisper_models

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16_000
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000  # 16-bit mono

ENGINE_WHISPER = "whisper"
ENGINE_VOSK = "vosk"
ENGINES = (ENGINE_WHISPER, ENGINE_VOSK)


@dataclass(frozen=True)
class Result:
    """A recognised piece of one stream; offsets are ms of audio fed to this recogniser."""

    text: str
    final: bool
    start_ms: int
    end_ms: int
    # A partial's words after `text` that the recogniser has not settled yet: shown underlined (dotted), may change.
    tentative: str = ""


class Recogniser(Protocol):
    def feed(self, pcm16: bytes) -> list[Result]: ...

    def finish(self) -> list[Result]: ...


class Engine(Protocol):
    name: str
    gives_partials: bool

    def start(self, *, grammar: list[str] | None = None) -> Recogniser: ...


# ---------------------------------------------------------------------------------------------
# Vosk: the production engine (design card).


class VoskEngine:
    """Vosk/Kaldi; the model directory comes from VOSK_MODEL_PATH and is loaded once per process."""

    name = ENGINE_VOSK
    gives_partials = True

    def __init__(self, model_path: str | os.PathLike | None) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        path = _checked_vosk_model_dir(model_path)
        try:
            # Always a directory: vosk.Model(lang=...) would download a model at run time.
            self._model = vosk.Model(model_path=str(path))
        except Exception as exc:
            raise ImproperlyConfigured(
                f"VOSK_MODEL_PATH={str(model_path)!r}: Vosk could not load the model in this directory ({exc}); "
                "point VOSK_MODEL_PATH at an unpacked Vosk model such as vosk-model-small-en-us-0.15."
            ) from exc
        self._vosk = vosk

    def start(self, *, grammar: list[str] | None = None) -> VoskRecogniser:
        if grammar is not None:
            words = [w.strip() for w in grammar if w and w.strip()]
            if not words:
                raise ValueError("a grammar needs at least one word or phrase")
            # ensure_ascii=False: Vosk matches the grammar against its vocabulary byte for byte.
            recogniser = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE, json.dumps(words, ensure_ascii=False))
        else:
            recogniser = self._vosk.KaldiRecognizer(self._model, SAMPLE_RATE)
        recogniser.SetWords(True)
        return VoskRecogniser(recogniser)


class VoskRecogniser:
    # Kaldi's cost per call is high next to 20 ms of audio: feed it 100 ms at a time and ask for a
    # partial at most every 200 ms, which still puts partials on screen well within a second.
    FEED_MS = 100
    PARTIAL_EVERY_MS = 200

    def __init__(self, recogniser) -> None:
        self._rec = recogniser
        self._buffer = b""
        self._fed_ms = 0
        self._partial_at_ms = 0
        self._last_partial = ""
        self._utterance_start_ms = 0

    def feed(self, pcm16: bytes) -> list[Result]:
        self._buffer += pcm16
        if len(self._buffer) < self.FEED_MS * BYTES_PER_MS:
            return []
        return self._accept()

    def finish(self) -> list[Result]:
        results = self._accept() if len(self._buffer) >= 2 else []
        self._buffer = b""
        return results + self._final(self._rec.FinalResult())

    def _accept(self) -> list[Result]:
        usable = len(self._buffer) - len(self._buffer) % 2
        pcm16, self._buffer = self._buffer[:usable], self._buffer[usable:]
        self._fed_ms += usable // BYTES_PER_MS
        if self._rec.AcceptWaveform(pcm16):
            return self._final(self._rec.Result())
        if self._fed_ms - self._partial_at_ms < self.PARTIAL_EVERY_MS:
            return []
        self._partial_at_ms = self._fed_ms
        text = json.loads(self._rec.PartialResult()).get("partial", "").strip()
        if not text or text == self._last_partial:
            return []
        self._last_partial = text
        return [Result(text=text, final=False, start_ms=self._utterance_start_ms, end_ms=self._fed_ms)]

    def _final(self, raw: str) -> list[Result]:
        data = json.loads(raw)
        text = data.get("text", "").strip()
        words = data.get("result") or []
        self._last_partial = ""
        start_ms = self._utterance_start_ms
        self._utterance_start_ms = self._fed_ms
        if not text:
            return []
        if words:
            start_ms = int(words[0]["start"] * 1000)
            end_ms = int(words[-1]["end"] * 1000)
        else:
            end_ms = self._fed_ms
        return [Result(text=text, final=True, start_ms=start_ms, end_ms=end_ms)]


def _checked_vosk_model_dir(model_path: str | os.PathLike | None) -> Path:
    if not model_path:
        raise ImproperlyConfigured(
            "VOSK_MODEL_PATH is not set: CAPTIONS_ENGINE=vosk needs the directory of an unpacked Vosk model "
            "(for example vosk-model-small-en-us-0.15)."
        )
    path = Path(model_path)
    if not path.is_dir():
        raise ImproperlyConfigured(f"VOSK_MODEL_PATH={str(model_path)!r} is not a directory.")
    if not (path / "am" / "final.mdl").is_file() or not (path / "conf" / "mfcc.conf").is_file():
        raise ImproperlyConfigured(
            f"VOSK_MODEL_PATH={str(model_path)!r} does not hold a Vosk model (am/final.mdl and conf/mfcc.conf "
            "are missing); unpack the whole model archive there."
        )
    return path


# ---------------------------------------------------------------------------------------------
# Whisper tiny.en through faster-whisper: the zero-config default.


class SileroVoice:
    """Silero's voice-activity model (the ONNX file faster-whisper ships), loaded once per process and
    shared by every stream; each stream keeps its own recurrent state (`SpeechProbability`)."""

    WINDOW = 512  # samples at 16 kHz (32 ms), the window the model is trained on
    CONTEXT = 64  # samples of the previous window it sees again

    def __init__(self) -> None:
        from faster_whisper.vad import get_vad_model

        self._session = get_vad_model().session  # one intra-op thread; run() is safe across threads

    def stream(self) -> SpeechProbability:
        return SpeechProbability(self)

    def run(self, window: np.ndarray, state: tuple[np.ndarray, np.ndarray]) -> tuple[float, tuple]:
        out, h, c = self._session.run(None, {"input": window[None, :], "h": state[0], "c": state[1]})
        return float(out.ravel()[0]), (h, c)


class SpeechProbability:
    """The probability that one stream is speaking now, updated every 32 ms window of audio fed."""

    def __init__(self, voice: SileroVoice) -> None:
        self._voice = voice
        self._state = (np.zeros((1, 1, 128), np.float32), np.zeros((1, 1, 128), np.float32))
        self._context = np.zeros(voice.CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self.probability = 0.0

    def feed(self, samples: np.ndarray) -> float:
        """Take int16-scaled samples; returns the probability after the last complete window."""
        data = np.concatenate([self._pending, samples / 32768.0])
        size = self._voice.WINDOW
        end = len(data) - len(data) % size
        for i in range(0, end, size):
            window = data[i : i + size].astype(np.float32)
            self.probability, self._state = self._voice.run(np.concatenate([self._context, window]), self._state)
            self._context = window[-self._voice.CONTEXT :]
        self._pending = data[end:]
        return self.probability


@dataclass(frozen=True)
class VadConfig:
    """Voice-activity detection that decides where one utterance ends: Silero's model says whether a
    frame is speech (with hysteresis), an energy floor keeps near-silence out; engines without the
    model (or `detector="energy"`) fall back to the energy detector alone."""

    frame_ms: int = 20
    detector: str = "silero"
    speech_threshold: float = 0.5  # Silero's probability that opens speech ...
    silence_threshold: float = 0.35  # ... and the one below which speech has paused (Silero's own defaults)
    min_speech_db: float = -50.0  # never call anything quieter than this speech
    above_floor_db: float = 12.0  # speech stands this far above the noise floor
    floor_window_ms: int = 4_000  # the noise floor is measured over this much recent audio
    floor_percentile: float = 5.0
    start_frames: int = 3  # consecutive voiced frames that open an utterance
    hangover_ms: int = 360  # silence that closes an utterance
    early_final_ms: int = 200  # ... whose final is decoded after this much of it, and sent if the silence lasts
    # Audio kept from before the utterance opened. Whisper wants a lead-in: finals of the same speech cut by this
    # detector scored WER 0.137 with 200 ms, 0.117 with 300, 0.108 with 400 (as good as the whole sentence with
    # 300 ms of silence around it), 0.104 with 600 (bench/captions_browser_wer.py's recording at 8 alignments).
    preroll_ms: int = 400
    caption_lead_ms: int = 200  # a caption starts this long before its first voiced frame (within the pre-roll)
    min_utterance_ms: int = 250  # shorter bursts are clicks, not words
    max_utterance_ms: int = 12_000  # a speaker who never pauses is cut here
    partial_every_ms: int = 500  # while someone speaks, re-decode the open utterance this often
    partial_after_ms: int = 600  # ... once it holds this much speech (shorter gives Whisper too little to go on)
    partial_retry_ms: int = 200  # ... but sooner while a decode has given nothing to show yet
    partial_quiet_ms: int = 100  # no partial once the speaker has paused this long: the final is coming
    partial_max_load: float = 0.5  # skip a partial while the model was busy more than this share of the last 2 s
    partial_cost_factor: float = 3.0  # the next partial waits this many times the last one's decode time
    partial_skip_behind_ms: int = 300  # no partials while this much audio waits to be recognised


class WhisperEngine:
    """faster-whisper running a Whisper model (CTranslate2; tiny.en unless told, captions/whisper_models.py)."""

    name = ENGINE_WHISPER
    gives_partials = True
    # Finals are decoded with a beam of 5 (WER 0.25 → 0.13 on bench/captions_e2e.py's sentences, about 20 ms
    # more per final); partials, re-decoded every half second and replaced anyway, stay greedy.
    FINAL_BEAM_SIZE = 5
    # Whisper's encoder is made for 30 s windows, and faster-whisper pads every call to one: on tiny.en that is
    # 280 of a call's 330 ms. An utterance seen through a 10 s window (1 s past its end when longer) decodes in
    # about 80 ms with the same words (bench/captions_e2e.py's sentences and others, see captions/README.md).
    WHISPER_WINDOW_FRAMES = 3_000  # mel frames of 10 ms
    ENCODER_WINDOW_FRAMES = 1_000
    ENCODER_PAD_FRAMES = 100

    def __init__(self, model: str = whisper_models.TINY_EN, *, cpu_threads: int = 0) -> None:
        from faster_whisper import WhisperModel

        # faster-whisper logs every call at INFO; one line per utterance is noise in a worker's log.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)
        path = whisper_models.model_dir(model)
        threads = cpu_threads or min(2, os.cpu_count() or 1)
        self._model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=threads)
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._tokenizer = Tokenizer(
            self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language="en"
        )
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])
        # One CTranslate2 model serves every stream of the process; calls are serialised.
        self._lock = threading.Lock()
        self._calls: deque[tuple[float, float]] = deque(maxlen=64)  # (ended at, seconds) of recent calls
        self.partial_calls = 0
        self.partial_seconds = 0.0
        self.final_seconds = 0.0
        self.voice = SileroVoice()
        # The first call pays for allocations and kernel selection: pay it now, not on a Space's first words.
        self.transcribe(bytes(SAMPLE_RATE * 2))

    def start(self, *, grammar: list[str] | None = None) -> WhisperRecogniser:
        if grammar is not None:
            raise ValueError("grammar-constrained recognition needs CAPTIONS_ENGINE=vosk")
        return WhisperRecogniser(self, VadConfig())

    def prompt_for(self, *, title: str, topics: str, names: list[str]) -> str:
        """Words to prime the decoder with for one Space: its title, topics and speakers' names."""
        parts = [title.strip().rstrip(".")]
        if topics.strip():
            parts.append("Topics: " + ", ".join(t.strip() for t in topics.split(",") if t.strip()))
        if names:
            parts.append("Speakers: " + ", ".join(names))
        return ". ".join(p for p in parts if p) + "."

    def load(self, window_s: float = 2.0) -> float:
        """The share of the last `window_s` seconds this process's model spent decoding."""
        now = time.monotonic()
        busy = sum(min(seconds, window_s - (now - ended)) for ended, seconds in self._calls if now - ended < window_s)
        return max(0.0, busy / window_s)

    def transcribe(self, pcm16: bytes, *, partial: bool = False, prompt: str = "") -> str:
        audio = np.frombuffer(pcm16, dtype=np.int16).astype(np.float32) / 32768.0
        with self._lock:
            started = time.monotonic()
            text = self._transcribe(audio, prompt, beam_size=1 if partial else self.FINAL_BEAM_SIZE)
            spent = time.monotonic() - started
            self._calls.append((time.monotonic(), spent))
        if partial:
            self.partial_calls += 1
            self.partial_seconds += spent
        else:
            self.final_seconds += spent
        return text

    def _transcribe(self, audio: np.ndarray, prompt: str, *, beam_size: int) -> str:
        features = self._model.feature_extractor(audio)
        window = max(self.ENCODER_WINDOW_FRAMES, features.shape[-1] + self.ENCODER_PAD_FRAMES)
        text = self._decode(features, prompt, beam_size=beam_size, window=window)
        if window < self.WHISPER_WINDOW_FRAMES and _repeats_itself(text):
            # The short window's known failure: the sentence said twice. The full window does not do it.
            text = self._decode(features, prompt, beam_size=beam_size, window=self.WHISPER_WINDOW_FRAMES)
        if _repeats_itself(text):
            # Still looping ("Armor-x-x-x-..." after audio was skipped under overload): no caption rather
            # than words nobody said.
            logger.info("captions: dropped a decode that loops (%d characters)", len(text))
            return ""
        return text

    def _decode(self, features: np.ndarray, prompt: str, *, beam_size: int, window: int) -> str:
        """One greedy or beam decode of `features` seen through an encoder window of `window` mel frames
        (what faster-whisper's transcribe does for one segment with these settings, but with a window of
        our choosing instead of always 30 s)."""
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.transcribe import get_ctranslate2_storage

        model = self._model
        padded = pad_or_trim(features, min(window, self.WHISPER_WINDOW_FRAMES))
        encoded = model.model.encode(get_ctranslate2_storage(padded[None]))
        previous = self._tokenizer.encode(" " + prompt.strip()) if prompt else []
        tokens = model.get_prompt(self._tokenizer, previous, without_timestamps=True)
        result = model.model.generate(
            encoded,
            [tokens],
            beam_size=beam_size,
            patience=1,
            length_penalty=1,
            # Speech is at most about 8 tokens a second: a loop stops there instead of at Whisper's 448 tokens,
            # which cost a looping final seconds of a busy worker's time.
            max_length=min(model.max_length, len(tokens) + 16 + 8 * features.shape[-1] // 100),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            max_initial_timestamp_index=50,  # faster-whisper's default: 1 s
        )[0]
        ids = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(ids) / (len(ids) + 1)
        if result.no_speech_prob >= 0.6 and avg_logprob <= -1.0:
            return ""  # Whisper's own rule for "nobody spoke"
        return self._tokenizer.decode(ids).strip()


def _repeats_itself(text: str, n: int = 4) -> bool:
    """Whether the decoder looped: some run of `n` words comes twice, a piece of up to 8 characters comes 8
    times in a row (a loop written as one word, "Armor-X-X-X-X..."), or the text compresses more than 2.4
    times (Whisper's own test for a failed decode)."""
    words = [_norm(w) for w in text.split()]
    runs = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    raw = text.encode()
    return (
        len(set(runs)) < len(runs)
        or re.search(r"(.{1,8}?)\1{7,}", text) is not None
        or (len(raw) > 0 and len(raw) / len(zlib.compress(raw)) > 2.4)
    )


class WhisperRecogniser:
    """Cuts the stream into utterances at silences and transcribes each one as it closes; while an
    utterance is open, re-decodes it every half second for a partial."""

    def __init__(self, engine: WhisperEngine, vad: VadConfig) -> None:
        self._engine = engine
        self._vad = vad
        voice = getattr(engine, "voice", None) if vad.detector == "silero" else None
        self._speech = voice.stream() if voice is not None else None
        self._frame_bytes = vad.frame_ms * BYTES_PER_MS
        self._pending = b""  # less than one VAD frame, waiting for the rest
        self._fed_ms = 0
        self._noise_floor_db = -90.0
        self._levels: deque[float] = deque(maxlen=vad.floor_window_ms // vad.frame_ms)
        self._frames_seen = 0
        self._voiced_run = 0
        self._silent_ms = 0
        self._early: tuple[int, str] | None = None  # (cut, text) of a final decoded before the pause was over
        self._preroll: list[tuple[bytes, float]] = []
        self._utterance: list[tuple[bytes, float]] = []  # 20 ms frames with their levels
        self._utterance_start_ms = 0
        self._speech_start_ms = 0
        self._in_speech = False
        self._partial_at_ms = 0
        self._partial_gap_ms = vad.partial_every_ms
        self.behind_ms = 0  # audio still queued behind what is being fed (set by the speaker's stream)
        self.prompt = ""  # the Space's title, topics and speakers' names (set by the Space's captioner)
        self._previous: list[str] = []  # the last partial hypothesis, in words
        self._stable: list[str] = []  # words two hypotheses in a row agreed on: shown as they are
        self._shown: tuple[str, str] = ("", "")  # the last partial sent: settled words, tentative tail

    def feed(self, pcm16: bytes) -> list[Result]:
        data = self._pending + pcm16
        usable = len(data) - len(data) % self._frame_bytes
        self._pending = data[usable:]
        results: list[Result] = []
        for i in range(0, usable, self._frame_bytes):
            result = self._frame(data[i : i + self._frame_bytes])
            if result is not None:
                results.append(result)
        return results

    def finish(self) -> list[Result]:
        if self._pending and self._in_speech:
            self._utterance.append((self._pending, self._vad.min_speech_db))
            self._fed_ms += len(self._pending) // BYTES_PER_MS
        self._pending = b""
        cut = len(self._utterance) - self._silent_ms // self._vad.frame_ms
        result = self._close(cut) if self._in_speech else None
        return [result] if result is not None else []

    def _frame(self, frame: bytes) -> Result | None:
        vad = self._vad
        samples = np.frombuffer(frame, dtype=np.int16).astype(np.float32)
        rms = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        level_db = 20.0 * np.log10(max(rms, 1.0) / 32768.0)
        # The floor is a low percentile of the recent levels: the pauses between words keep it low
        # while someone speaks, and steady noise lifts it within a few seconds.
        self._levels.append(level_db)
        self._frames_seen += 1
        if self._frames_seen % 10 == 1:
            self._noise_floor_db = float(np.percentile(self._levels, vad.floor_percentile))
        if self._speech is not None:
            threshold = vad.silence_threshold if self._in_speech else vad.speech_threshold
            voiced = self._speech.feed(samples) >= threshold and level_db > vad.min_speech_db
        else:
            voiced = level_db > max(vad.min_speech_db, self._noise_floor_db + vad.above_floor_db)
        self._fed_ms += vad.frame_ms

        if not self._in_speech:
            self._preroll.append((frame, level_db))
            del self._preroll[: -max(1, vad.preroll_ms // vad.frame_ms)]
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= vad.start_frames:
                self._in_speech = True
                self._utterance = list(self._preroll)
                self._utterance_start_ms = self._fed_ms - len(self._preroll) * vad.frame_ms
                self._speech_start_ms = self._fed_ms - self._voiced_run * vad.frame_ms
                self._preroll = []
                self._silent_ms = 0
                self._start_partials()
            return None

        self._utterance.append((frame, level_db))
        self._silent_ms = 0 if voiced else self._silent_ms + vad.frame_ms
        if voiced:
            self._early = None  # the pause was one between words: the early decode was of half a sentence
        cut = len(self._utterance) - self._silent_ms // vad.frame_ms
        if self._silent_ms >= vad.hangover_ms:
            return self._close(cut)
        if (
            self._early is None
            and self._silent_ms >= vad.early_final_ms
            and self._speech_ms(cut) >= vad.min_utterance_ms
        ):
            # Decode the final while the rest of the pause arrives, so it goes out as the pause closes the
            # utterance instead of one decode later; the cut, and so the words, are the ones closing gives.
            self._early = (cut, self._engine.transcribe(self._audio(cut), **self._prompt_kwargs()))
            return None
        if self._fed_ms - self._utterance_start_ms >= vad.max_utterance_ms:
            # Someone who never pauses: cut at the quietest moment of the last 1.5 s, not mid-word.
            window = min(len(self._utterance) - 1, 1_500 // vad.frame_ms)
            levels = [level for _, level in self._utterance[-window:]]
            return self._close(len(self._utterance) - window + int(np.argmin(levels)))
        if (
            self._fed_ms - self._partial_at_ms >= self._partial_gap_ms
            and self._fed_ms - self._speech_start_ms >= vad.partial_after_ms
            and self._silent_ms < vad.partial_quiet_ms
        ):
            return self._partial()
        return None

    def _prompt_kwargs(self) -> dict:
        return {"prompt": self.prompt} if self.prompt else {}

    def _start_partials(self) -> None:
        self._partial_at_ms = self._fed_ms - self._vad.partial_every_ms  # the first one as soon as there is enough
        self._partial_gap_ms = self._vad.partial_every_ms
        self._previous = []
        self._stable = []
        self._shown = ("", "")

    def _partial(self) -> Result | None:
        """Re-decode the open utterance and show the words two decodes in a row agree on
        (LocalAgreement): shown words never change until the final replaces the line."""
        self._partial_at_ms = self._fed_ms
        if self.behind_ms > self._vad.partial_skip_behind_ms:
            return None  # catching up with queued audio: only finals matter until we are live again
        load = getattr(self._engine, "load", None)
        if load is not None and load() > self._vad.partial_max_load:
            return None  # the model is busy with finals: partials wait, finals never do
        started = time.monotonic()
        audio = b"".join(frame for frame, _ in self._utterance)
        words = self._engine.transcribe(audio, partial=True, **self._prompt_kwargs()).split()
        # A slow decode (a busy machine, a long utterance) spaces the next ones out, so partials take
        # a bounded share of this stream's real time and never push its final back for long.
        spent_ms = int((time.monotonic() - started) * 1000)
        # Until a decode has given words to show (the first half second often gives none), try again sooner.
        every = self._vad.partial_every_ms if words else self._vad.partial_retry_ms
        self._partial_gap_ms = max(every, int(self._vad.partial_cost_factor * spent_ms))
        agreed = 0
        for a, b in zip(self._previous, words, strict=False):
            if _norm(a) != _norm(b):
                break
            agreed += 1
        self._previous = words
        stable_norm = [_norm(w) for w in self._stable]
        settled = words[: len(self._stable)]
        if agreed > len(self._stable) and (
            [_norm(w) for w in settled] == stable_norm or agreed >= len(self._stable) + 2
        ):
            # Two decodes in a row agree on more words; revising shown words takes a longer agreement.
            self._stable = words[:agreed]
        # The newest decode's words past the settled ones come as a tentative tail, so the first words show
        # after one decode instead of two; settled words never change until the final replaces the line.
        same_start = [_norm(w) for w in words[: len(self._stable)]] == [_norm(w) for w in self._stable]
        tentative = " ".join(words[len(self._stable) :]) if same_start else ""
        shown = (" ".join(self._stable), tentative)
        if not any(shown) or shown == self._shown:
            return None
        self._shown = shown
        return Result(
            text=shown[0], final=False, start_ms=self._caption_start_ms(), end_ms=self._fed_ms, tentative=tentative
        )

    def _caption_start_ms(self) -> int:
        # Not the start of the pre-roll, which may reach back across a gap in the audio (a lost connection).
        return max(self._utterance_start_ms, self._speech_start_ms - self._vad.caption_lead_ms)

    def _speech_ms(self, cut: int) -> int:
        """Speech in the open utterance's frames before `cut` (not counting the pre-roll)."""
        end_ms = self._utterance_start_ms + cut * self._vad.frame_ms
        return end_ms - max(self._utterance_start_ms, self._speech_start_ms)

    def _audio(self, cut: int) -> bytes:
        return b"".join(frame for frame, _ in self._utterance[:cut])

    def _close(self, cut: int) -> Result | None:
        """Transcribe the utterance's frames before `cut`; frames after it open the next utterance."""
        frame_ms = self._vad.frame_ms
        audio, speech_ms, rest = self._audio(cut), self._speech_ms(cut), self._utterance[cut:]
        start_ms = self._caption_start_ms()
        end_ms = self._utterance_start_ms + cut * frame_ms
        early, self._early = self._early, None
        self._voiced_run = 0
        if rest and self._silent_ms < len(rest) * frame_ms:
            # Cut for length: the speaker is still talking, so the rest carries on as speech.
            self._utterance = rest
            self._utterance_start_ms = self._speech_start_ms = end_ms
            self._start_partials()
        else:
            self._in_speech = False
            self._utterance = []
            self._silent_ms = 0
        if speech_ms < self._vad.min_utterance_ms:
            return None
        if early is not None and early[0] == cut:
            text = early[1]
        else:
            text = self._engine.transcribe(audio, **self._prompt_kwargs())
        if not text:
            return None
        return Result(text=text, final=True, start_ms=start_ms, end_ms=end_ms)


def _norm(word: str) -> str:
    return word.strip(".,!?;:'\"").lower()


# ---------------------------------------------------------------------------------------------
# One engine per worker process, loaded after fork.

_engine_lock = threading.Lock()
_engines: dict[tuple[int, str], Engine] = {}


def build_engine(name: str) -> Engine:
    """Load a fresh engine by name; raises ImproperlyConfigured for an unknown name or a bad model."""
    if name == ENGINE_VOSK:
        return VoskEngine(getattr(settings, "VOSK_MODEL_PATH", None))
    if name == ENGINE_WHISPER:
        return WhisperEngine(
            getattr(settings, "CAPTIONS_WHISPER_MODEL", whisper_models.TINY_EN),
            cpu_threads=getattr(settings, "CAPTIONS_WHISPER_THREADS", 0),
        )
    raise ImproperlyConfigured(f"CAPTIONS_ENGINE={name!r} is not one of {', '.join(ENGINES)}.")


def check_configuration(name: str | None = None) -> None:
    """Cheap start-up check of the engine's settings (no model is loaded); raises ImproperlyConfigured."""
    name = name or getattr(settings, "CAPTIONS_ENGINE", ENGINE_WHISPER)
    if name == ENGINE_VOSK:
        _checked_vosk_model_dir(getattr(settings, "VOSK_MODEL_PATH", None))
    elif name == ENGINE_WHISPER:
        whisper_models.model_dir(getattr(settings, "CAPTIONS_WHISPER_MODEL", whisper_models.TINY_EN))
    else:
        raise ImproperlyConfigured(f"CAPTIONS_ENGINE={name!r} is not one of {', '.join(ENGINES)}.")


def get_engine(name: str | None = None) -> Engine:
    """The engine of this process (CAPTIONS_ENGINE unless named), loaded on first use.

    Keyed by process id, so a worker forked from a parent that already loaded a model loads its own
    copy instead of sharing native state across fork.
    """
    name = name or getattr(settings, "CAPTIONS_ENGINE", ENGINE_WHISPER)
    key = (os.getpid(), name)
    engine = _engines.get(key)
    if engine is None:
        with _engine_lock:
            engine = _engines.get(key)
            if engine is None:
                logger.info("captions: loading the %s engine in process %s", name, os.getpid())
                engine = build_engine(name)
                for stale in [k for k in _engines if k[0] != key[0]]:
                    del _engines[stale]
                _engines[key] = engine
    return engine
