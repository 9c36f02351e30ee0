"""What `tests/fixtures/speech.wav` says, and the one way tests check that it was heard.

Speech-to-text is not exact: a small model on another CPU may mishear a word, so tests assert
that most of the words come back, never one machine's exact transcript.
"""

from __future__ import annotations

import re
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SPEECH_WAV = FIXTURES / "speech.wav"
SPEECH_MP3 = FIXTURES / "speech.mp3"
#: The sentence spoken in the fixtures (see tests/fixtures/README.md).
SPOKEN = "Good morning. Today the weather is warm and the sky is clear."
#: Its distinct words.
KEY_WORDS = ("good", "morning", "today", "the", "weather", "is", "warm", "and", "sky", "clear")
#: The fixture's length in seconds (72,065 samples at 16 kHz).
DURATION_S = 4.50


def words(text: str) -> set[str]:
    """The lower-case words of a transcript."""
    return set(re.findall(r"[a-z']+", text.lower()))


def assert_mostly_heard(text: str, *, may_miss: int = 2) -> None:
    """Most of the spoken words are in `text` (a word or two may be misheard)."""
    missing = [word for word in KEY_WORDS if word not in words(text)]
    assert len(missing) <= may_miss, f"missing {missing} in {text!r}"
