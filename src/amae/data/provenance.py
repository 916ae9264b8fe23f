"""Provenance: one mechanism, used by every stage, for "may this artefact be reused?".

Every cached artefact (the ingested data, the split, the features of a modality, the fitted text
model, a trained cell) is a folder whose ``manifest.json`` lists the fingerprints of everything it
was made from: the content hashes of its input tables, or the digests of the upstream manifests,
the settings actually used, the versions that shape its numbers and the amae version. The manifest
is written **last**, after every file of the unit, so its presence means the unit is complete; it
is reused only when a freshly computed manifest is identical, and otherwise recomputed with a
one-line account of what changed (:func:`changes`). Downstream stages name the digest of their
upstream manifest as an input, so a change anywhere invalidates everything built on it.

Stages do not re-implement any of this: they build a :class:`Manifest`, ask :func:`check`, do the
work when needed, and :func:`seal` the folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from amae import __version__
from amae.data.io import json_default, read_json, write_json

MANIFEST = "manifest.json"
#: what :func:`changes` says when there is nothing to compare with (a first run, an unfinished unit)
NO_EARLIER = "no complete earlier result"


def _hasher() -> Any:
    return hashlib.blake2b(digest_size=16)


def canonical(obj: Any) -> Any:
    """``obj`` as plain JSON values (tuples as lists, numpy scalars as numbers, paths as text)."""
    return json.loads(json.dumps(obj, sort_keys=True, default=_default))


def _default(obj: Any) -> Any:
    try:
        return json_default(obj)
    except TypeError:  # anything else that may sit in a config: fingerprinted by its text
        return str(obj)


def json_digest(obj: Any) -> str:
    """Digest of a JSON-able value, independent of key order."""
    h = _hasher()
    h.update(json.dumps(obj, sort_keys=True, default=_default).encode())
    return h.hexdigest()


def file_digest(path: Path) -> str:
    """Content hash of one file (streamed by hashlib, so any size fits in memory)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, _hasher).hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """Content hash of a table: its column names and every value (row order matters).

    Vectorised per column (pandas' hashing); a column of lists (post media) is hashed exploded,
    with each element's row, so list boundaries count.
    """
    h = _hasher()
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    for c in frame.columns:
        col = frame[c]
        try:
            hashed = pd.util.hash_pandas_object(col, index=False)
        except TypeError:  # unhashable cells (lists)
            exploded = col.explode()
            hashed = pd.util.hash_pandas_object(exploded.astype(str), index=True)
        h.update(hashed.to_numpy().tobytes())
    return h.hexdigest()


def stat_digest(paths: Iterable[Path]) -> str:
    """Cheap fingerprint of many files by (path, size, mtime): for media, whose bytes are many."""
    h = _hasher()
    for p in paths:
        p = Path(p)
        try:
            st = p.stat()
            h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{p}\0missing\n".encode())
    return h.hexdigest()


@dataclass
class Manifest:
    """What one artefact was made from.

    ``inputs``: name -> fingerprint of an input (a content hash, or an upstream manifest's digest);
    ``config``: the settings actually used; ``versions``: feature/format versions that shape the
    numbers; ``amae``: the package version; ``outputs``: the files :func:`seal` found in the unit,
    each with its size and a sampled digest, so a damaged unit is never reused. Outputs are not
    part of :meth:`digest`: what a unit *is* is fixed by what it was made from.
    """

    stage: str
    inputs: dict[str, str | None]
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    amae: str = __version__
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return canonical(asdict(self))

    def digest(self) -> str:
        return json_digest({k: v for k, v in self.to_dict().items() if k != "outputs"})

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Manifest:
        return cls(d["stage"], dict(d.get("inputs", {})), dict(d.get("config", {})), dict(d.get("versions", {})),
                   str(d.get("amae", "")), dict(d.get("outputs", {})))


def read_manifest(folder: Path) -> Manifest | None:
    """The folder's manifest, or None when it is missing or unreadable (an incomplete unit)."""
    path = Path(folder) / MANIFEST
    if not path.exists():
        return None
    try:
        return Manifest.from_dict(read_json(path))
    except (ValueError, KeyError, TypeError):
        return None


def changes(old: Manifest | None, new: Manifest) -> list[str]:
    """What differs between a saved manifest and the one wanted now, in words (empty: identical)."""
    if old is None:
        return [NO_EARLIER]
    a, b = old.to_dict(), new.to_dict()
    out: list[str] = []
    if a["stage"] != b["stage"]:
        out.append(f"stage {a['stage']} -> {b['stage']}")
    for section, word in (("inputs", "input"), ("config", "config"), ("versions", "version")):
        for key in sorted(set(a[section]) | set(b[section])):
            va, vb = a[section].get(key), b[section].get(key)
            if va != vb:
                what = "changed" if section == "inputs" else f"{_short(va)} -> {_short(vb)}"
                out.append(f"{word} '{key}' {what}")
    if a["amae"] != b["amae"]:
        out.append(f"amae {a['amae']} -> {b['amae']}")
    return out


def changed_inputs(reasons: list[str]) -> list[str]:
    """The reasons worth telling a user: what differs from an earlier result (not "there was none")."""
    return [r for r in reasons if r != NO_EARLIER]


def _short(v: Any) -> str:
    text = json.dumps(v, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def check(folder: Path, wanted: Manifest) -> list[str]:
    """Reasons the artefact in ``folder`` cannot be reused (empty list: reuse it)."""
    saved = read_manifest(folder)
    return changes(saved, wanted) or damaged(folder, saved)


#: files that record how a unit was asked for, not what it holds (rewritten by later commands)
UNRECORDED = frozenset({MANIFEST, "config.toml"})
#: files up to this size are hashed whole; larger ones by size and three sampled blocks
WHOLE_DIGEST_BYTES = 8 << 20
SAMPLE_BYTES = 1 << 20


def output_fingerprint(path: Path) -> str:
    """``size:digest`` of one output file: whole up to 8 MiB, else its start, middle and end.

    Cheap enough to check on every reuse of a unit of gigabytes, and it catches what actually
    happens to artefacts: truncation, a file replaced or zeroed, a copy cut short.
    """
    size = Path(path).stat().st_size
    if size <= WHOLE_DIGEST_BYTES:
        return f"{size}:{file_digest(path)}"
    h = _hasher()
    with open(path, "rb") as fh:
        for start in (0, size // 2, size - SAMPLE_BYTES):
            fh.seek(start)
            h.update(fh.read(SAMPLE_BYTES))
    return f"{size}:{h.hexdigest()}"


def damaged(folder: Path, saved: Manifest | None) -> list[str]:
    """Recorded output files of a unit that are missing or differ from what was written."""
    out = []
    for name, recorded in (saved.outputs if saved is not None else {}).items():
        path = Path(folder) / name
        try:
            same = output_fingerprint(path) == recorded
        except OSError:
            out.append(f"file '{name}' is missing or unreadable")
            continue
        if not same:
            out.append(f"file '{name}' differs from what was written (truncated or changed)")
    return out


def seal(folder: Path, manifest: Manifest) -> Path:
    """Record the unit's files and write the manifest (atomically, last): the unit counts as complete."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name not in UNRECORDED
                   and not p.name.startswith(".")) if folder.exists() else []
    outputs = {p.name: output_fingerprint(p) for p in files}
    sealed = Manifest(manifest.stage, manifest.inputs, manifest.config, manifest.versions, manifest.amae, outputs)
    return write_json(folder / MANIFEST, sealed.to_dict())


def unseal(folder: Path) -> None:
    """Remove the manifest first, before a unit is rewritten: a crash midway leaves it incomplete."""
    (Path(folder) / MANIFEST).unlink(missing_ok=True)


def upstream(folder: Path) -> str | None:
    """Digest of an upstream artefact's manifest (None when it has none): the input of the next stage."""
    m = read_manifest(folder)
    return None if m is None else m.digest()


def short(digest_or_obj: Any, n: int = 8) -> str:
    """A short hex name (for folder names) of a digest or of any JSON-able value."""
    text = digest_or_obj if isinstance(digest_or_obj, str) else json_digest(digest_or_obj)
    return text[:n]
