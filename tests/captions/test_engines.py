"""The recognisers for real: Vosk with the Korean model, Whisper tiny.en, and their configuration errors."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured

from captions import engines
from captions.engines import VadConfig, VoskEngine, WhisperEngine, WhisperRecogniser, get_engine
from captions.streams import Caption, SpeakerStream
from tests.captions.speech import pcm_frames, silence, speak, words_of

HANGUL = re.compile(r"[\uac00-\ud7a3]")
KOREAN_GRAMMAR = [
    "안녕하세요",
    "감사합니다",
    "여보세요",
    "오늘",
    "날씨",
    "좋습니다",
    "내일",
    "음악",
    "학교",
    "친구",
    "회의",
]


def _feed(recogniser, pcm16: bytes, chunk_ms: int = 100):
    results = []
    for i in range(0, len(pcm16), chunk_ms * 32):
        results.extend(recogniser.feed(pcm16[i : i + chunk_ms * 32]))
    return results


def _recognise(recogniser, pcm16: bytes, chunk_ms: int = 100):
    return _feed(recogniser, pcm16, chunk_ms) + recogniser.finish()


def test_vosk_grammar_recogniser_returns_the_exact_korean_words(vosk_engine):
    pcm = silence(300) + speak("안녕하세요 감사합니다", voice="ko") + silence(800)

    finals = [r for r in _recognise(vosk_engine.start(grammar=KOREAN_GRAMMAR), pcm) if r.final]

    assert [r.text for r in finals] == ["안녕하세요 감사합니다"]
    assert 0 <= finals[0].start_ms < finals[0].end_ms <= len(pcm) // 32


def test_vosk_grammar_recogniser_tells_apart_other_words_of_the_grammar(vosk_engine):
    pcm = silence(300) + speak("여보세요 감사합니다", voice="ko") + silence(800)

    finals = [r for r in _recognise(vosk_engine.start(grammar=KOREAN_GRAMMAR), pcm) if r.final]

    assert " ".join(r.text for r in finals) == "여보세요 감사합니다"


def test_vosk_open_vocabulary_stream_gives_partials_then_a_hangul_final(vosk_engine):
    pcm = silence(300) + speak("안녕하세요 오늘 날씨가 좋습니다", voice="ko") + silence(1_500)
    stream = SpeakerStream(engine=vosk_engine, speaker_id=7, speaker_index=2, base_offset_ms=60_000)

    events = []
    for frame in pcm_frames(pcm):
        stream.push(frame)
        events.extend(stream.pump())
    events.extend(stream.close())

    captions = [e for e in events if isinstance(e, Caption)]
    first_final = next(i for i, c in enumerate(captions) if c.final)
    assert first_final > 0 and all(not c.final for c in captions[:first_final])
    assert any(HANGUL.search(c.text) for c in captions[:first_final])
    final = captions[first_final]
    assert HANGUL.search(final.text)
    assert (final.speaker_id, final.speaker_index) == (7, 2)
    assert 60_000 <= final.start_ms < final.end_ms <= 60_000 + len(pcm) // 32


def test_vosk_silence_gives_no_captions(vosk_engine):
    assert _recognise(vosk_engine.start(), silence(3_000)) == []


def test_whisper_default_engine_finds_the_english_keywords(whisper_engine, english_speech):
    finals = [r for r in _recognise(whisper_engine.start(), english_speech, chunk_ms=20) if r.final]

    assert len(finals) == 2
    assert {"morning", "gardening"} <= words_of(finals[0].text)
    assert {"joining", "space", "tonight"} <= words_of(finals[1].text)
    assert 0 < finals[0].start_ms < finals[0].end_ms < finals[1].start_ms < finals[1].end_ms


def test_whisper_base_chosen_by_setting_finds_the_english_keywords(settings, english_speech, monkeypatch):
    """The real base model, from the packages `make test` installs (captions/whisper_models.py)."""
    monkeypatch.setattr(engines, "_engines", {})
    settings.CAPTIONS_ENGINE = "whisper"
    settings.CAPTIONS_WHISPER_MODEL = "base"
    settings.CAPTIONS_WHISPER_THREADS = 1

    engine = get_engine()
    finals = [r for r in _recognise(engine.start(), english_speech, chunk_ms=20) if r.final]

    assert engine._model.model.is_multilingual  # base, not the bundled tiny.en
    assert len(finals) == 2
    assert {"welcome", "morning", "gardening"} <= words_of(finals[0].text)
    # Not "tonight": espeak-ng's comes out as "to hide" in some runs.
    assert {"thank", "everyone", "joining", "space"} <= words_of(finals[1].text)


def test_whisper_engine_cuts_utterances_at_silences_not_in_mid_sentence(whisper_engine):
    sentence = speak("Our guest speaker talks about electric bicycles and the future of cities.")
    finals = [r for r in _recognise(whisper_engine.start(), silence(400) + sentence + silence(800)) if r.final]

    assert len(finals) == 1
    assert {"electric", "bicycles", "cities"} <= words_of(finals[0].text)


def test_whisper_engine_cuts_a_speaker_who_never_pauses_at_quiet_moments(whisper_engine):
    speech = speak(
        "Our guest speaker talks about electric bicycles and the future of cities "
        "and then about trains and buses and the weather in the mountains"
    )
    recogniser = WhisperRecogniser(whisper_engine, VadConfig(hangover_ms=5_000, max_utterance_ms=4_000))

    finals = [r for r in _recognise(recogniser, silence(400) + speech + silence(500), chunk_ms=20) if r.final]

    assert len(finals) >= 2
    assert all(a.end_ms == b.start_ms for a, b in zip(finals, finals[1:], strict=False))
    assert {"guest", "speaker", "cities", "trains", "buses"} <= words_of(" ".join(f.text for f in finals))


def test_whisper_engine_gives_growing_partials_whose_agreed_words_never_change(whisper_engine):
    sentence = speak("Every summer the village organises a long festival with music, markets and a parade.")
    # Fed faster than real time the model is always busy: lift the guards that thin partials out then.
    recogniser = WhisperRecogniser(whisper_engine, VadConfig(partial_max_load=2.0, partial_cost_factor=0))
    results, stable = [], []
    pcm = silence(400) + sentence + silence(800)
    for i in range(0, len(pcm), 20 * 32):
        for result in recogniser.feed(pcm[i : i + 20 * 32]):
            results.append(result)
            stable = list(recogniser._stable)
    results += recogniser.finish()

    partials = [r for r in results if not r.final]
    finals = [r for r in results if r.final]
    assert len(finals) == 1 and {"village", "festival"} <= words_of(finals[0].text)
    # Decoded every 0.5 s of speech; shown when two decodes agree on more words.
    assert len(partials) >= 3
    # Shown words stay as they are: each partial carries the previous one's words on, except when two
    # decodes in a row agree on two more words that contradict an early guess (its first second).
    shown = [[w.strip(",.").lower() for w in p.text.split()] for p in partials]
    revised = [b[: len(a)] != a for a, b in zip(shown, shown[1:], strict=False)]
    assert revised.count(True) <= 2, [p.text for p in partials]
    # By the end the line shows most of the sentence, beginning as the final does (the final, decoded with a
    # beam on the whole utterance, may still differ in a word: "market" / "markets", "the village" / "a
    # village"). Which partial settles which words varies from run to run: the model's decode of the same
    # audio is not repeatable to the word.
    final_words = [w.strip(",.").lower() for w in finals[0].text.split()]
    assert shown[-1][:2] == final_words[:2], ([p.text for p in partials], finals[0].text)
    assert len(shown[-1]) >= len(final_words) // 2, ([p.text for p in partials], finals[0].text)
    assert all(p.start_ms == finals[0].start_ms for p in partials)
    assert all(a.end_ms < b.end_ms for a, b in zip(partials, partials[1:], strict=False))
    assert stable and " ".join(stable).lower().startswith("every")
    # The first decode shows at once, unsettled: its words come as the tentative tail.
    assert partials[0].tentative and not partials[0].text
    assert partials[0].end_ms - partials[0].start_ms <= VadConfig().partial_after_ms + 400


class _Decodes:
    """The engine, with every decode it is asked for written down: (partial, seconds of audio, the
    recogniser's silence so far)."""

    def __init__(self, engine: WhisperEngine) -> None:
        self._engine = engine
        self.recogniser: WhisperRecogniser | None = None
        self.calls: list[tuple[bool, float, int]] = []
        self.finals_audio: list[bytes] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def transcribe(self, pcm16: bytes, *, partial: bool = False, prompt: str = "") -> str:
        self.calls.append((partial, len(pcm16) / 32_000, self.recogniser._silent_ms))
        if not partial:
            self.finals_audio.append(pcm16)
        return self._engine.transcribe(pcm16, partial=partial, prompt=prompt)


def _recording(engine: WhisperEngine, vad: VadConfig) -> tuple[WhisperRecogniser, _Decodes]:
    decodes = _Decodes(engine)
    decodes.recogniser = WhisperRecogniser(decodes, vad)
    return decodes.recogniser, decodes


def _voice_at(pcm16: bytes) -> np.ndarray:
    """The indices of the samples of `pcm16` loud enough to be voice (espeak-ng's silence is digital zeros)."""
    return np.flatnonzero(np.abs(np.frombuffer(pcm16, dtype=np.int16).astype(np.int32)) > 300)


def _voiced(pcm16: bytes) -> bytes:
    """espeak-ng's speech without its trailing near-silence (about 0.4 s), so a test says how long a pause is."""
    return pcm16[: 2 * (int(_voice_at(pcm16)[-1]) + 1)]


def test_whisper_final_is_decoded_during_the_pause_and_sent_once_the_pause_closes_it(whisper_engine):
    vad = VadConfig()
    recogniser, decodes = _recording(whisper_engine, vad)
    sentence = _voiced(speak("The museum opens a new exhibition about ancient maps."))

    results = _feed(recogniser, silence(400) + sentence + silence(vad.hangover_ms - 20), chunk_ms=20)
    assert not [r for r in results if r.final]  # the pause is not yet long enough to close the utterance
    finals = [r for r in results + recogniser.feed(silence(100)) if r.final]

    assert len(finals) == 1 and {"museum", "exhibition", "maps"} <= words_of(finals[0].text)
    final_decodes = [c for c in decodes.calls if not c[0]]
    # One decode for the final, made early in the pause; closing the utterance did not decode it again.
    assert len(final_decodes) == 1
    assert vad.early_final_ms <= final_decodes[0][2] < vad.hangover_ms


def _lead_in_ms(pcm16: bytes) -> int:
    """How long `pcm16` stays silent before the voice."""
    return int(_voice_at(pcm16)[0]) // 16


def test_whisper_final_decodes_a_lead_in_before_the_voice_but_the_caption_starts_at_the_voice(whisper_engine):
    vad = VadConfig()
    recogniser, decodes = _recording(whisper_engine, vad)
    sentence = _voiced(speak("The museum opens a new exhibition about ancient maps."))
    voice_at_ms = 1_000 + _lead_in_ms(sentence)

    finals = [r for r in _recognise(recogniser, silence(1_000) + sentence + silence(600), chunk_ms=20) if r.final]

    assert len(finals) == 1 and len(decodes.finals_audio) == 1
    # Whisper gets a quarter second of silence before the voice: the detector opens the utterance 100-150 ms
    # into the voice, so the pre-roll of 200 ms it had gave a lead-in of 75 ms, and cost words.
    assert _lead_in_ms(decodes.finals_audio[0]) >= 250
    # ... while the caption is timed from just before the voice, not from the start of the pre-roll.
    assert voice_at_ms - vad.caption_lead_ms - 100 <= finals[0].start_ms <= voice_at_ms


def test_whisper_pause_between_words_shorter_than_the_hangover_keeps_the_sentence_whole(whisper_engine):
    vad = VadConfig()
    recogniser, decodes = _recording(whisper_engine, vad)
    first = _voiced(speak("Farmers expect heavy rain"))
    second = _voiced(speak("across the valley this weekend."))
    pause = silence((vad.early_final_ms + vad.hangover_ms) // 2)

    results = _recognise(recogniser, silence(400) + first + pause + second + silence(800), chunk_ms=20)

    finals = [r for r in results if r.final]
    assert len(finals) == 1 and {"rain", "across", "weekend"} <= words_of(finals[0].text)
    # The pause got an early decode of the first half; the final is a decode of the whole sentence.
    final_decodes = [c for c in decodes.calls if not c[0]]
    assert len(final_decodes) == 2 and final_decodes[0][1] < final_decodes[1][1]


def test_whisper_partials_stop_once_the_speaker_pauses(whisper_engine):
    vad = VadConfig(partial_max_load=2.0, partial_cost_factor=0)  # fed faster than real time: no thinning
    recogniser, decodes = _recording(whisper_engine, vad)
    sentence = _voiced(speak("She parked the red bicycle outside the public library."))

    _recognise(recogniser, silence(400) + sentence + silence(800), chunk_ms=20)

    partials = [c for c in decodes.calls if c[0]]
    assert len(partials) >= 3
    assert all(silent_ms < vad.partial_quiet_ms for _, _, silent_ms in partials)


def test_whisper_decode_that_repeats_itself_is_done_again_with_the_full_window(whisper_engine, monkeypatch):
    windows = []

    def decode(features, prompt, *, beam_size, window):
        windows.append(window)
        looped = window < WhisperEngine.WHISPER_WINDOW_FRAMES
        return "The football match starts at seven." * (2 if looped else 1)

    monkeypatch.setattr(whisper_engine, "_decode", decode)

    assert whisper_engine.transcribe(silence(2_000)) == "The football match starts at seven."
    assert windows == [WhisperEngine.ENCODER_WINDOW_FRAMES, WhisperEngine.WHISPER_WINDOW_FRAMES]


def test_whisper_decode_that_still_loops_gives_no_caption(whisper_engine, monkeypatch):
    """Seen with Whisper base on an overloaded worker: a loop written as one word, in both windows."""
    windows = []

    def decode(features, prompt, *, beam_size, window):
        windows.append(window)
        return "Armor" + "-x" * 200

    monkeypatch.setattr(whisper_engine, "_decode", decode)

    assert whisper_engine.transcribe(silence(2_000)) == ""
    assert windows == [WhisperEngine.ENCODER_WINDOW_FRAMES, WhisperEngine.WHISPER_WINDOW_FRAMES]


def test_whisper_sentences_people_say_do_not_look_like_loops():
    from captions.engines import _repeats_itself

    said = [
        "The train to the coast leaves from platform 7.",
        "Yes, yes, we know.",
        "Bye-bye, see you on Tuesday.",
        "I said no, no, no, and then I left the party early because the music was far too loud for me.",
    ]
    assert [_repeats_itself(text) for text in said] == [False] * len(said)
    assert _repeats_itself("Farmers expect heavy rain. Farmers expect heavy rain.")
    assert _repeats_itself("Armor-X-X-X-X-X-X-X-X-X-X-X-X-X-X-X-")  # seen, cut short by the length limit


def test_whisper_engine_ignores_a_click(whisper_engine):
    click = np.zeros(16_000, dtype=np.int16)
    click[8_000:8_800] = 20_000  # 50 ms
    assert _recognise(whisper_engine.start(), click.tobytes(), chunk_ms=20) == []


def test_whisper_engine_refuses_a_grammar_with_a_clear_message(whisper_engine):
    with pytest.raises(ValueError, match="CAPTIONS_ENGINE=vosk"):
        whisper_engine.start(grammar=["hello"])


def test_vosk_engine_refuses_an_empty_grammar(vosk_engine):
    with pytest.raises(ValueError, match="at least one word"):
        vosk_engine.start(grammar=["  "])


def test_unset_vosk_model_path_is_improperly_configured_naming_the_variable():
    with pytest.raises(ImproperlyConfigured, match="VOSK_MODEL_PATH is not set"):
        VoskEngine(None)


def test_missing_vosk_model_directory_is_improperly_configured(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="VOSK_MODEL_PATH=.*is not a directory"):
        VoskEngine(tmp_path / "vosk-model-small-en-us-0.15")


def test_directory_without_a_vosk_model_is_improperly_configured(tmp_path):
    (tmp_path / "README").write_text("an empty download")
    with pytest.raises(ImproperlyConfigured, match="VOSK_MODEL_PATH=.*does not hold a Vosk model"):
        VoskEngine(tmp_path)


def test_corrupt_vosk_model_is_improperly_configured(tmp_path, korean_model_dir):
    for name in ("am", "conf", "graph", "ivector"):
        (tmp_path / name).mkdir()
    (tmp_path / "am" / "final.mdl").write_bytes(b"\x00not a kaldi model" * 64)
    (tmp_path / "conf" / "mfcc.conf").write_text((korean_model_dir / "conf" / "mfcc.conf").read_text())
    (tmp_path / "conf" / "model.conf").write_text((korean_model_dir / "conf" / "model.conf").read_text())

    with pytest.raises(ImproperlyConfigured, match="VOSK_MODEL_PATH=.*could not load the model"):
        VoskEngine(tmp_path)


def test_unknown_captions_engine_is_improperly_configured(settings):
    settings.CAPTIONS_ENGINE = "pocketsphinx"
    with pytest.raises(ImproperlyConfigured, match="CAPTIONS_ENGINE='pocketsphinx'"):
        get_engine()


def test_vosk_engine_is_chosen_by_setting_and_model_path(settings, korean_model_dir, monkeypatch):
    monkeypatch.setattr(engines, "_engines", {})
    settings.CAPTIONS_ENGINE = "vosk"
    settings.VOSK_MODEL_PATH = str(korean_model_dir)

    assert isinstance(get_engine(), VoskEngine)


def test_vosk_engine_with_a_bad_model_path_stops_the_worker(settings, tmp_path, monkeypatch):
    monkeypatch.setattr(engines, "_engines", {})
    settings.CAPTIONS_ENGINE = "vosk"
    settings.VOSK_MODEL_PATH = str(tmp_path / "nowhere")

    with pytest.raises(ImproperlyConfigured, match="VOSK_MODEL_PATH"):
        get_engine()


def test_one_model_per_process_shared_by_its_streams_and_reloaded_after_fork(settings, monkeypatch):
    monkeypatch.setattr(engines, "_engines", {})
    settings.CAPTIONS_ENGINE = "whisper"

    first = get_engine()
    assert get_engine() is first
    assert isinstance(first, WhisperEngine)

    # A forked worker has another pid: it must load its own model, not reuse the parent's.
    monkeypatch.setattr(engines.os, "getpid", lambda: -1)
    assert get_engine() is not first


def test_system_check_reports_a_vosk_engine_without_a_model(settings, tmp_path):
    from captions.checks import caption_engine_check

    settings.CAPTIONS_ENGINE = "vosk"
    settings.VOSK_MODEL_PATH = str(tmp_path / "missing")

    errors = caption_engine_check()

    assert [e.id for e in errors] == ["captions.E001"]
    assert "VOSK_MODEL_PATH" in errors[0].msg


def test_system_check_passes_for_the_default_engine_and_a_real_vosk_model(settings, korean_model_dir):
    from captions.checks import caption_engine_check

    settings.CAPTIONS_ENGINE = "whisper"
    assert caption_engine_check() == []
    settings.CAPTIONS_ENGINE = "vosk"
    settings.VOSK_MODEL_PATH = str(korean_model_dir)
    assert caption_engine_check() == []
