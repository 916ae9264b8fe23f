"""Segmentation of posts into tokens (docs/design.md section 4.1).

Chinese posts are segmented with jieba, English posts with a regex word tokenizer; the language
of a post is chosen by the share of CJK characters among its letters **[choice]**. Text whose
letters are at least ``KANA_SHARE`` kana is Japanese and is never given to jieba: it is cut where
the script changes (kanji / hiragana / katakana / other), e.g. 今日はとても悲しい -> 今日 | はとても | 悲 | しい
**[choice]**: crude, but dependency-free and stable; Japanese emotion words are matched on the raw
text (``lexicons.load_mlask``), not on these tokens. URLs,
mentions, hashtags (``#tag`` and Weibo's ``#topic#``), emoji (Unicode sequences, Weibo
``[emoticon]`` codes and ASCII emoticons) are cut out first so they stay whole tokens.

Parts of speech come from a lookup in jieba's own dictionary rather than ``jieba.posseg``: the
dictionary carries the same tags for every known word, and the lookup is ~10x faster.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{CJK_CHARS}]")
_CJK_RUN_RE = re.compile(f"[{CJK_CHARS}]+")
_LETTER_RE = re.compile(r"[^\W\d_]")
#: hiragana, katakana (without the middle dot U+30FB, which Chinese uses too) and half-width katakana
KANA_CHARS = "\u3041-\u309f\u30a0-\u30fa\u30fc-\u30ff\uff66-\uff9f"
_KANA_RE = re.compile(f"[{KANA_CHARS}]")
#: share of kana among the letters from which text is Japanese (segmentation, and language.py) [choice]
KANA_SHARE = 0.2

_EMOJI_BASE = (
    "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff"
    "\u25a0-\u25ff\u3030\u303d\u3297\u3299\u203c\u2049\u2122\u2139\u00a9\u00ae]"
)
_EMOJI_SEQ = f"{_EMOJI_BASE}(?:[\ufe0f\U0001f3fb-\U0001f3ff]|\u200d{_EMOJI_BASE})*"
URL_PATTERN = r"(?:https?://|www\.)[^\s<>\"\u3000-\u303f\uff01-\uff5e" + CJK_CHARS + r"]+"
MENTION_PATTERN = f"@[\\w{CJK_CHARS}\\-]{{1,30}}"
HASHTAG_PATTERN = f"#[^#\\s]{{1,40}}#|#[\\w{CJK_CHARS}]+"
WEIBO_EMOTICON_PATTERN = f"\\[[{CJK_CHARS}A-Za-z]{{1,8}}\\]"
ASCII_EMOTICON_PATTERN = r"(?<![\w:/])(?:[:;=][\-o']?[)(\]\[dDpP/\\|*]|<3|\^_\^|T_T|orz)(?![\w])"

_SPECIAL_RE = re.compile(
    f"(?P<url>{URL_PATTERN})|(?P<mention>{MENTION_PATTERN})|(?P<hashtag>{HASHTAG_PATTERN})"
    f"|(?P<emoji>{WEIBO_EMOTICON_PATTERN}|{_EMOJI_SEQ}|{ASCII_EMOTICON_PATTERN})"
)
_JA_WORD_RE = re.compile(
    f"[{CJK_CHARS}\u3005\u3006]+|[\u3041-\u309f]+|[\u30a0-\u30fa\u30fc-\u30ff\uff66-\uff9f]+"
    f"|[^\\W\\d_{CJK_CHARS}{KANA_CHARS}]+(?:['\u2019][^\\W\\d_]+)*|\\d+(?:[.,:]\\d+)*|\\.{{2,}}|[!?]+|[^\\w\\s]"
)
_EN_WORD_RE = re.compile(rf"[{CJK_CHARS}]+|[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+(?:[.,:]\d+)*|\.{{2,}}|[!?]+|[^\w\s]")
_EMOJI_ONLY_RE = re.compile(f"(?:{WEIBO_EMOTICON_PATTERN}|{_EMOJI_SEQ}|{ASCII_EMOTICON_PATTERN})")
_URL_RE = re.compile(URL_PATTERN)

#: token kinds
WORD, NUMBER, PUNCT, EMOJI, HASHTAG, MENTION, URL = (
    "word",
    "number",
    "punct",
    "emoji",
    "hashtag",
    "mention",
    "url",
)


_URL_OR_MENTION_RE = re.compile(f"{URL_PATTERN}|{MENTION_PATTERN}")


def cjk_share(text: str) -> float:
    """Share of CJK characters among the letters of ``text`` (0 when it has no letters).

    URLs and mentions are left out: their Latin letters say nothing about the post's language.
    """
    text = _URL_OR_MENTION_RE.sub(" ", text)
    letters = len(_LETTER_RE.findall(text))
    return len(_CJK_RE.findall(text)) / letters if letters else 0.0


def kana_share(text: str) -> float:
    """Share of kana among the letters of ``text`` (0 without kana); URLs and mentions left out."""
    if not _KANA_RE.search(text):
        return 0.0
    text = _URL_OR_MENTION_RE.sub(" ", text)
    return len(_KANA_RE.findall(text)) / max(len(_LETTER_RE.findall(text)), 1)


def token_kind(token: str) -> str:
    """Kind of a token as produced by :func:`tokenize` (cached by callers, so regexes are fine)."""
    first = token[0]
    if first == "@" and len(token) > 1:
        return MENTION
    if first == "#" and len(token) > 1:
        return HASHTAG
    if _URL_RE.fullmatch(token):
        return URL
    if _EMOJI_ONLY_RE.fullmatch(token):
        return EMOJI
    if token.replace(".", "").replace(",", "").replace(":", "").isdigit():
        return NUMBER
    if any(ch.isalnum() for ch in token):
        return WORD
    return PUNCT


class _Jieba:
    """Process-local jieba tokenizer, built on first use (jieba loads a 350k-word dictionary)."""

    _lock = threading.Lock()
    _tok = None

    @classmethod
    def get(cls):  # noqa: ANN206 - jieba has no type hints
        if cls._tok is None:
            with cls._lock:
                if cls._tok is None:
                    import logging

                    import jieba

                    jieba.setLogLevel(logging.WARNING)
                    tok = jieba.Tokenizer()
                    tok.initialize()
                    cls._tok = tok
        return cls._tok


def _segment_zh(text: str) -> list[str]:
    # HMM off [choice]: unknown words stay as dictionary words or characters that the lexicons
    # can match, and segmentation is faster and independent of the HMM model
    return [t for t in _Jieba.get().lcut(text, HMM=False) if not t.isspace()]


def _segment_en(text: str) -> list[str]:
    out: list[str] = []
    for tok in _EN_WORD_RE.findall(text):
        if _CJK_RE.match(tok):
            out.extend(_segment_zh(tok))
        else:
            out.append(tok)
    return out


def _segment_ja(text: str) -> list[str]:
    return _JA_WORD_RE.findall(text)


def tokenize(text: str, is_zh: bool) -> list[str]:
    """Tokens of one post; all but URLs are lower-cased so lexicon lookups are case-blind.

    ``is_zh`` picks jieba; text that is at least ``KANA_SHARE`` kana is segmented as Japanese instead.
    """
    seg = _segment_ja if kana_share(text) >= KANA_SHARE else _segment_zh if is_zh else _segment_en

    def segment(part: str) -> list[str]:
        return [t.lower() for t in seg(part)]

    tokens: list[str] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(text):
        if m.start() > pos:
            tokens.extend(segment(text[pos : m.start()]))
        tok = m.group()
        tokens.append(tok if m.lastgroup == "url" else tok.lower())
        pos = m.end()
    if pos < len(text):
        tokens.extend(segment(text[pos:]))
    return tokens


@lru_cache(maxsize=1)
def jieba_pos_table() -> dict[str, str]:
    """word -> part-of-speech tag from jieba's bundled dictionary (same tags as jieba.posseg)."""
    import jieba

    table: dict[str, str] = {}
    with open(jieba.get_dict_file().name, encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3:
                table[parts[0]] = parts[2]
    return table
