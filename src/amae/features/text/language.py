"""Language of a post (docs/design.md section 4.1).

Chinese is still chosen by the share of CJK characters (``TextFeatureConfig.cjk_threshold``), so
Chinese posts keep their features. A post is Japanese when at least ``KANA_SHARE`` of its letters
are kana or when py3langid says ``ja``; every other post with letters gets py3langid's language
(a naive Bayes over byte n-grams, 97 languages, model shipped in the package, ~25 µs a post).
URLs and mentions are left out first: their Latin letters say nothing about the language.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .tokenize import _CJK_RE, _LETTER_RE, _URL_OR_MENTION_RE, KANA_SHARE, kana_share

#: languages with their own ``lang_*`` column (the most frequent ones on listening tweets, then Turkish and
#: Hindi, which have polarity lists of their own since version 3); others: ``lang_other``
LANG_CODES: tuple[str, ...] = ("en", "zh", "ja", "ko", "id", "ms", "tl", "pt", "es", "de", "ru", "fr", "ar", "tr", "hi")
LANG_COLUMNS: tuple[str, ...] = tuple(f"lang_{c}" for c in LANG_CODES) + ("lang_other", "lang_confidence")
#: py3langid codes folded into one column: Cantonese and Wu Chinese are Chinese script posts [choice]
LANG_ALIASES = {"yue": "zh", "wuu": "zh"}
#: py3langid probability from which a post in Latin letters is read in its language's labMT list rather
#: than as English (short posts get near-uniform guesses: "sad" -> pt 0.03) [choice]. A post in another
#: script (Cyrillic, Arabic, Hangul, Devanagari) cannot be English and is read in its language's list
#: whatever the probability: short Russian posts get 0.25-0.5 (Мне плохо: ru 0.25, uk 0.20, bg 0.16).
LANG_MIN_CONFIDENCE = 0.5
#: Latin letters (ASCII, Latin-1, Extended-A/B and Additional: Turkish, Vietnamese...)
_LATIN_RE = re.compile("[A-Za-z\u00c0-\u024f\u1e00-\u1eff]")
#: letters that Ukrainian writes and Russian does not
_UKRAINIAN_ONLY_RE = re.compile("[іїєґІЇЄҐ]")


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
    probability of its first choice (1.0 for a post chosen Japanese by its kana), routing masks, and
    ``latin``: at least half of the post's letters are Latin (see ``LANG_MIN_CONFIDENCE``)."""

    code: list[str]
    confidence: np.ndarray
    is_ja: np.ndarray
    is_zh: np.ndarray
    latin: np.ndarray

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


def _one(text: str, cjk_zh: bool) -> tuple[str, float, bool]:
    text = _URL_OR_MENTION_RE.sub(" ", text)
    letters = len(_LETTER_RE.findall(text))
    if not letters:
        return "", 0.0, False
    latin = 2 * len(_LATIN_RE.findall(text)) >= letters
    if kana_share(text) >= KANA_SHARE:
        return "ja", 1.0, latin
    code, prob = _Identifier.get().classify(text)
    code = LANG_ALIASES.get(code, code)
    if code != "ja" and cjk_zh:
        code = "zh"  # chosen by script as before; py3langid only decides between Chinese and Japanese
    elif code == "zh" and not _CJK_RE.search(text):
        code = "other"  # py3langid's "zh" on a post without any Chinese character is noise
    elif code == "uk" and not _UKRAINIAN_ONLY_RE.search(text):
        # short Russian posts are often called Ukrainian (Я тебя люблю: uk 0.34, ru 0.30); a post without
        # і, ї, є or ґ, which Ukrainian sentences nearly always have, is taken as Russian [choice]
        code, prob = "ru", dict(_Identifier.get().rank(text)).get("ru", 0.0)
    return code, float(prob), latin


def detect_languages(texts: Sequence[str], cjk_zh: np.ndarray) -> PostLanguages:
    """Language of every (normalised) post; ``cjk_zh`` is the CJK-share decision of ``prepare_posts``."""
    rows = [_one(t, bool(z)) if t else ("", 0.0, False) for t, z in zip(texts, cjk_zh, strict=True)]
    code = [c for c, _, _ in rows]
    conf = np.fromiter((p for _, p, _ in rows), dtype=np.float64, count=len(rows))
    latin = np.fromiter((la for _, _, la in rows), dtype=bool, count=len(rows))
    is_ja = np.fromiter((c == "ja" for c in code), dtype=bool, count=len(code))
    return PostLanguages(code, conf, is_ja, np.asarray(cjk_zh, dtype=bool) & ~is_ja, latin)
