"""Linguistic word categories: the built-in open SCMBWC substitute or a LIWC-format ``.dic``.

The built-in lists live in ``data/categories_{zh,en}.json`` (versioned with the package); a
category of the same name in both languages becomes one feature, so ``pron_first_singular``
counts 我 and "I" alike. Entries ending in ``*`` match any continuation (LIWC convention).
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

BUILTIN_FILES = ("categories_zh.json", "categories_en.json")


def _read_builtin(name: str) -> dict:
    ref = resources.files("amae.features.text").joinpath(f"data/{name}")
    with ref.open("r", encoding="utf-8") as fh:
        return json.load(fh)


def builtin_categories() -> tuple[dict[str, list[str]], dict[str, int]]:
    """Merged category -> entries of the zh and en files, and the file versions."""
    merged: dict[str, list[str]] = {}
    versions: dict[str, int] = {}
    for name in BUILTIN_FILES:
        data = _read_builtin(name)
        versions[name] = int(data["version"])
        for cat, words in data["categories"].items():
            merged.setdefault(cat, []).extend(words)
    return merged, versions


def english_pos_lists() -> dict[str, list[str]]:
    """Closed-class English word lists used for the heuristic English part-of-speech shares."""
    return _read_builtin("categories_en.json").get("pos", {})


def negators() -> list[str]:
    """Negation words of both languages (used for the negated-emotion columns)."""
    return builtin_categories()[0]["negation"]


def load_liwc_dic(path: str | Path) -> dict[str, list[str]]:
    """Parse a LIWC-format dictionary: a ``%``-delimited header of ``id<TAB>name`` lines, then
    ``word<TAB>id<TAB>id...`` lines. Returns ``liwc_<name> -> entries``; malformed lines raise
    with the line number so a broken file is fixed rather than silently half-used."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    seps = [i for i, ln in enumerate(lines) if ln.strip() == "%"]
    if len(seps) < 2:
        raise ValueError(f"{path}: not a LIWC .dic file (needs two '%' header delimiters)")
    ids: dict[str, str] = {}
    for i in range(seps[0] + 1, seps[1]):
        parts = lines[i].split()
        if not parts:
            continue
        if len(parts) < 2:
            raise ValueError(f"{path}:{i + 1}: header line needs '<id> <name>'")
        ids[parts[0]] = "liwc_" + re.sub(r"\W+", "_", parts[1].lower()).strip("_")
    cats: dict[str, list[str]] = {name: [] for name in ids.values()}
    for i in range(seps[1] + 1, len(lines)):
        parts = lines[i].split("\t") if "\t" in lines[i] else lines[i].split()
        parts = [p.strip() for p in parts if p.strip()]
        if not parts:
            continue
        word, refs = parts[0].lower(), parts[1:]
        for ref in refs:
            if ref not in ids:
                raise ValueError(f"{path}:{i + 1}: unknown category id {ref!r} for {word!r}")
            cats[ids[ref]].append(word)
    return cats


class WordMatcher:
    """Matches tokens against category entries: exact words plus ``prefix*`` wildcards."""

    def __init__(self, categories: dict[str, list[str]]) -> None:
        self.names = list(categories)
        self.exact: dict[str, set[int]] = {}
        self.prefix: dict[str, set[int]] = {}
        for ci, name in enumerate(self.names):
            for entry in categories[name]:
                entry = entry.strip().lower()
                if not entry:
                    continue
                if entry.endswith("*"):
                    self.prefix.setdefault(entry[:-1], set()).add(ci)
                else:
                    self.exact.setdefault(entry, set()).add(ci)
        self._max_prefix = max((len(p) for p in self.prefix), default=0)

    def match(self, token: str) -> set[int]:
        """Category indices that ``token`` belongs to (callers cache per token)."""
        found = set(self.exact.get(token, ()))
        for k in range(1, min(len(token), self._max_prefix) + 1):
            hit = self.prefix.get(token[:k])
            if hit:
                found |= hit
        return found
