"""Language of a post (docs/design.md section 4.1).

Chinese is still chosen by the share of CJK characters (``TextFeatureConfig.cjk_threshold``), so
Chinese posts keep their features. A post is Japanese when at least ``KANA_SHARE`` of its letters
are kana or when py3langid says ``ja``; every other post with letters gets py3langid's language
(a naive Bayes over byte n-grams, 97 languages, model shipped in the package, ~25 µs a post).
URLs and mentions are left out first: their Latin letters say nothing about the language.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .tokenize import _CJK_RE, _LETTER_RE, _URL_OR_MENTION_RE, KANA_SHARE, kana_share

#: languages with their own ``lang_*`` column (the most frequent ones on listening tweets); others: ``lang_other``
LANG_CODES: tuple[str, ...] = ("en", "zh", "ja", "ko", "id", "ms", "tl", "pt", "es", "de", "ru", "fr", "ar")
LANG_COLUMNS: tuple[str, ...] = tuple(f"lang_{c}" for c in LANG_CODES) + ("lang_other", "lang_confidence")
#: py3langid codes folded into one column: Cantonese and Wu Chinese are Chinese script posts [choice]
LANG_ALIASES = {"yue": "zh", "wuu": "zh"}
#: py3langid probability from which a post's words are read in its language's labMT list rather than
#: as English (short posts get near-uniform guesses: "sad" -> pt 0.03) [choice]
LANG_MIN_CONFIDENCE = 0.5


class _Identifier:
    """Process-local py3langid model with normalised probabilities, loaded on first use (~1 s)."""

    _lock = threading.Lock()
    _lid = None

    @classmethod
    def get(cls):  # noqa: ANN206 - py3langid has no type hints
        if cls._lid is None:
            with cls._lock:
                if cls._lid is None:
                    from py3langid.langid import MODEL_FILE, LanguageIdentifier

                    cls._lid = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return cls._lid


def load_identifier() -> None:
    """Load py3langid's model now (once per process) rather than on the first post with letters."""
    _Identifier.get()


@dataclass
class PostLanguages:
    """Row-aligned language of each post: ``code`` ("" for a post without letters), py3langid's
    probability of its first choice (1.0 for a post chosen Japanese by its kana), and routing masks."""

    code: list[str]
    confidence: np.ndarray
    is_ja: np.ndarray
    is_zh: np.ndarray

    def one_hot(self) -> np.ndarray:
        """The ``LANG_COLUMNS`` block, float64 (n, len(LANG_COLUMNS))."""
        out = np.zeros((len(self.code), len(LANG_COLUMNS)), dtype=np.float64)
        index = {c: i for i, c in enumerate(LANG_CODES)}
        other = len(LANG_CODES)
        cols = np.fromiter((index.get(c, other) if c else -1 for c in self.code), dtype=np.int64, count=len(self.code))
        has = cols >= 0
        out[np.flatnonzero(has), cols[has]] = 1.0
        out[:, -1] = self.confidence
        return out


def _one(text: str, cjk_zh: bool) -> tuple[str, float]:
    text = _URL_OR_MENTION_RE.sub(" ", text)
    if not _LETTER_RE.search(text):
        return "", 0.0
    if kana_share(text) >= KANA_SHARE:
        return "ja", 1.0
    code, prob = _Identifier.get().classify(text)
    code = LANG_ALIASES.get(code, code)
    if code != "ja" and cjk_zh:
        code = "zh"  # chosen by script as before; py3langid only decides between Chinese and Japanese
    elif code == "zh" and not _CJK_RE.search(text):
        code = "other"  # py3langid's "zh" on a post without any Chinese character is noise
    return code, float(prob)


def detect_languages(texts: Sequence[str], cjk_zh: np.ndarray) -> PostLanguages:
    """Language of every (normalised) post; ``cjk_zh`` is the CJK-share decision of ``prepare_posts``."""
    pairs = [_one(t, bool(z)) if t else ("", 0.0) for t, z in zip(texts, cjk_zh, strict=True)]
    code = [c for c, _ in pairs]
    conf = np.fromiter((p for _, p in pairs), dtype=np.float64, count=len(pairs))
    is_ja = np.fromiter((c == "ja" for c in code), dtype=bool, count=len(code))
    return PostLanguages(code, conf, is_ja, np.asarray(cjk_zh, dtype=bool) & ~is_ja)
