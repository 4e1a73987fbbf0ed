"""Word errors of a caption against what was said, as the caption benches count them.

Both texts go through Whisper's own English normaliser (the `whisper-normalizer` package: the rules the
published Whisper WERs are counted with): lower case, no punctuation, hyphenated words as their parts,
numbers as their value whether written in words or in digits ("forty thousand" = "40000", "seven" = "7"),
British spellings as American ("harbour" = "harbor"), fillers ("uh", "hmm") dropped. A caption that writes
"harbor" or "7" has the words right.
"""

from __future__ import annotations

from functools import cache

from whisper_normalizer.english import EnglishTextNormalizer


@cache
def _normaliser() -> EnglishTextNormalizer:
    return EnglishTextNormalizer()


def words(text: str) -> list[str]:
    """`text` as the words a WER counts."""
    return _normaliser()(text).split()


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
