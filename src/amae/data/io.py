"""Reading tables in any of the contract's formats and writing every output atomically.

Atomic writes (temp file in the same folder, then ``os.replace``) mean an interrupted run never
leaves a half-written artefact that a resumed run would trust.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")


def _default_file_mode() -> int:
    """Mode a plainly created file would get (mkstemp's temp files are 0600 otherwise)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


FILE_MODE = _default_file_mode()


class DataError(Exception):
    """A problem with user-supplied data: the message names the file, row and column."""


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _write_with(target: Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_json(target: Path, obj: Any) -> Path:
    def _w(p: Path) -> None:
        p.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=json_default), encoding="utf-8")

    return _write_with(target, _w)


def write_text(target: Path, text: str) -> Path:
    return _write_with(target, lambda p: p.write_text(text, encoding="utf-8"))


def write_parquet(target: Path, frame: pd.DataFrame) -> Path:
    return _write_with(target, lambda p: frame.to_parquet(p, index=False))


def write_npy(target: Path, array: np.ndarray) -> Path:
    def _w(p: Path) -> None:
        with open(p, "wb") as fh:
            np.save(fh, array)

    return _write_with(target, _w)


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def json_default(obj: Any) -> Any:
    """JSON for numpy scalars and arrays and paths (what amae's outputs hold)."""
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def find_table(folder: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``folder`` (any supported format), or None.

    Two files for the same table (say ``posts.csv`` and ``posts.parquet``) are ambiguous and an
    error, so the user never wonders which one was read.
    """
    found = [folder / f"{name}{s}" for s in TABLE_SUFFIXES if (folder / f"{name}{s}").exists()]
    if len(found) > 1:
        raise DataError(f"{folder}: table '{name}' exists in several formats: {', '.join(p.name for p in found)}")
    return found[0] if found else None


#: stands in for each undecodable byte while a file is parsed (a private-use code point that real
#: text does not contain); :func:`repair_text` turns it into U+FFFD and flags the row
_MARK = "\U0010fffd"
codecs.register_error("amae-mark", lambda exc: (_MARK, exc.end))  # type: ignore[arg-type, return-value]


def _decoded(path: Path) -> io.StringIO:
    """The file as text; one bad byte never refuses the whole file (see :func:`repair_text`)."""
    return io.StringIO(Path(path).read_bytes().decode("utf-8", "amae-mark"))


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet, CSV or JSON Lines table, turning any parser failure into a DataError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .parquet, .csv or .jsonl)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            # keep_default_na=False: ids such as "NA" stay strings; empty cells still become NaN.
            frame = pd.read_csv(_decoded(path), keep_default_na=False, na_values=[""], dtype=str)
        else:
            frame = pd.read_json(_decoded(path), lines=True, dtype=False)
    except Exception as exc:  # parser errors differ per format; report them uniformly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as {suffix[1:]}: {first}") from exc
    if frame.empty and len(frame.columns) == 0:
        raise DataError(f"{path}: file has no columns")
    return frame


_UNDECODABLE = _MARK


def repair_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Undecodable bytes (marked while reading) replaced by U+FFFD; and the mask of rows that had any.

    Vectorised over the column; a non-text column comes back unchanged with no row flagged.
    """
    none = np.zeros(len(values), dtype=bool)
    if not len(values) or not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return values, none
    try:
        bad = values.str.contains(_UNDECODABLE, regex=False, na=False).to_numpy(bool)
    except AttributeError:  # no string at all in the column
        return values, none
    if not bad.any():
        return values, bad
    fixed = values.copy()
    fixed[bad] = values[bad].str.replace(_UNDECODABLE, "\ufffd", regex=False)
    return fixed, bad
