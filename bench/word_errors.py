"""Word errors of a caption against what was said, as the caption benches count them.

Words are compared lower-cased, without the punctuation around them, hyphenated words as their parts, and
numbers as their value, whether written in words or in digits ("forty thousand" = "40,000", "three" = "3"):
a caption that writes a number in digits has the words right. Whisper's own English normaliser, which the
published Whisper WERs use, scores numbers the same way.
"""

from __future__ import annotations

import re

UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
NUMBER_WORDS = {word: n for n, word in enumerate(UNITS)} | {word: 20 + 10 * n for n, word in enumerate(TENS)}
SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}


def words(text: str) -> list[str]:
    """`text` as the words a WER counts, numbers as their digits."""
    raw = [w.strip(".,!?;:'\"").lower() for w in re.split(r"[\s\-]+", text)]
    result: list[str] = []
    number: int | None = None  # a number being read from words, e.g. "forty" then "thousand"
    for word in filter(None, raw):
        if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+", word):
            word = word.replace(",", "")
        if word in NUMBER_WORDS:
            number = (number or 0) + NUMBER_WORDS[word]
        elif word in SCALES and number is not None:
            number *= SCALES[word]
        else:
            if number is not None:
                result.append(str(number))
                number = None
            result.append(word)
    if number is not None:
        result.append(str(number))
    return result


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference)."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i in range(1, len(ref) + 1):
        previous, row[0] = row[0], i
        for j in range(1, len(hyp) + 1):
            current = min(row[j] + 1, row[j - 1] + 1, previous + (ref[i - 1] != hyp[j - 1]))
            previous, row[j] = row[j], current
    return row[len(hyp)], len(ref)
