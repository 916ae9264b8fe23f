"""Reading tables in any of the contract's formats and writing every output atomically.

Atomic writes (temp file in the same folder, then ``os.replace``) mean an interrupted run never
leaves a half-written artefact that a resumed run would trust.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TABLE_SUFFIXES = (".parquet", ".csv", ".jsonl", ".json")


def _default_mode(full: int) -> int:
    """Mode a plainly created file or folder would get (mkstemp's and mkdtemp's are 0600/0700 otherwise)."""
    mask = os.umask(0)
    os.umask(mask)
    return full & ~mask


FILE_MODE = _default_mode(0o666)
DIR_MODE = _default_mode(0o777)


class DataError(Exception):
    """A problem with user-supplied data: the message names the file, row and column."""


def _owner_tag() -> str:
    """Host and process that own a temporary: a sweep removes only temporaries of dead processes here."""
    return f"{socket.gethostname().replace('.', '-')}-{os.getpid()}"


_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<host>[^.]+)-(?P<pid>\d+)\.[^.]+\.(partial|old|tmp)$")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    return True


def sweep_abandoned(folder: Path) -> int:
    """Remove the temporaries that a killed writer (``kill -9``, a power cut) left in ``folder``.

    A temporary carries its writer's host and pid; it is removed only when that host is this one
    and the process is gone, so a live writer (here or on another machine of a shared disk) keeps
    its work. Returns how many were removed.
    """
    host, removed = socket.gethostname().replace(".", "-"), 0
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or match["host"] != host or _process_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{_owner_tag()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, FILE_MODE)
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; it replaces ``target`` only when the block succeeds.

    A failed or interrupted write (a full disk, a file-size limit, an error) leaves ``target`` as
    it was and no half-written folder that looks like a result: readers see the old unit or the
    new one, never a mixture. What a killed writer left beside it is swept first
    (:func:`sweep_abandoned`), so resumed runs do not accumulate dead temporaries.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{_owner_tag()}.", suffix=".partial", dir=target.parent))
    old = tmp.with_suffix(".old")
    try:
        yield tmp
        os.chmod(tmp, DIR_MODE)
        for _ in range(3):  # another writer may publish between the two renames: retry
            if target.exists():
                os.replace(target, old)
                shutil.rmtree(old, ignore_errors=True)
            try:
                os.replace(tmp, target)
                break
            except OSError:
                continue
        else:
            raise OSError(f"{target}: could not be replaced (another process keeps writing it)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _write_with(target: Path, writer: Callable[[Path], None]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def strict_json(obj: Any) -> Any:
    """``obj`` with every NaN or infinity as ``null``: the JSON amae writes is strict JSON.

    A metric with no cases to average over (no new pairs in a small split, say) is undefined; any
    other reader (a browser, ``jq``, a strict parser) refuses the ``NaN`` token Python would write.
    """
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return strict_json(obj.tolist())
    return obj


def write_json(target: Path, obj: Any) -> Path:
    def _w(p: Path) -> None:
        p.write_text(json.dumps(strict_json(obj), indent=2, ensure_ascii=False, default=json_default,
                                allow_nan=False), encoding="utf-8")

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


def _decoded(path: Path) -> str:
    """The file as text; one bad byte never refuses the whole file (see :func:`repair_text`)."""
    return Path(path).read_bytes().decode("utf-8", "amae-mark")


def _repeated(names: list) -> list[str]:
    """Names that occur more than once, in first-occurrence order."""
    seen = pd.Series([str(n) for n in names])
    return seen[seen.duplicated()].drop_duplicates().tolist()


def _duplicated_json_key(text: str, frame: pd.DataFrame) -> tuple[str, int] | None:
    """A key written twice in one JSON Lines record (the parser silently keeps the last), and its line.

    Each record holding a key writes it at least once, so a key whose total count in the file (a
    C-speed substring count) is at most the number of records with a value for it is never repeated;
    only otherwise are the lines holding it twice parsed again, with every pair kept.
    """
    lines = None
    for col in map(str, frame.columns):
        key = json.dumps(col, ensure_ascii=False)
        if text.count(key) <= int(frame[col].notna().sum()):
            continue
        lines = pd.Series(text.split("\n")) if lines is None else lines
        for number in np.flatnonzero(lines.str.count(re.escape(key)).to_numpy() > 1):
            try:
                pairs = json.loads(lines.iloc[number], object_pairs_hook=lambda kv: kv)
            except ValueError:
                continue
            if isinstance(pairs, list) and [k for k, _ in pairs].count(col) > 1:
                return col, int(number) + 1
    return None


def _parquet_names(path: Path) -> list[str]:
    """Column names in a Parquet file's schema (none when it has no readable schema: reading reports it)."""
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception:  # not Parquet at all: read_parquet names the problem
        return []


def _check_unique_columns(path: Path, suffix: str, text: str | None, frame: pd.DataFrame | None) -> None:
    """Refuse a table naming one column twice: pandas renames one (CSV ``user_id.1``), drops one (a key
    repeated in a JSON record) or fails obscurely (Parquet), and the user's data is silently changed."""
    if suffix == ".parquet":
        twice, where = _repeated(_parquet_names(path)), "the schema"
    elif suffix == ".csv":
        header = pd.read_csv(io.StringIO(text or ""), header=None, nrows=1, dtype=str, keep_default_na=False)
        twice, where = (_repeated(header.iloc[0].tolist()) if len(header) else []), "the header"
    else:
        found = _duplicated_json_key(text or "", frame if frame is not None else pd.DataFrame())
        twice, where = ([found[0]], f"one record (line {found[1]})") if found else ([], "")
    if twice:
        names = ", ".join(f"'{c}'" for c in twice)
        raise DataError(f"{path}: column {names} appears more than once in {where}; name each column once")


def read_table(path: Path) -> pd.DataFrame:
    """Read a Parquet, CSV or JSON Lines table, turning any parser failure into a DataError.

    A column named twice (CSV header, Parquet schema, or a key repeated in one JSON record) is a
    DataError naming it: pandas would keep one of the two silently.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unsupported file type '{suffix}' (use .parquet, .csv or .jsonl)")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")
    text = None
    if suffix == ".parquet":
        _check_unique_columns(path, suffix, None, None)
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            text = _decoded(path)
            # keep_default_na=False: ids such as "NA" stay strings; empty cells still become NaN.
            frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""], dtype=str)
        else:
            text = _decoded(path)
            frame = pd.read_json(io.StringIO(text), lines=True, dtype=False)
    except Exception as exc:  # parser errors differ per format; report them uniformly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot be read as {suffix[1:]}: {first}") from exc
    if frame.empty and len(frame.columns) == 0:
        raise DataError(f"{path}: file has no columns")
    if text is not None:
        _check_unique_columns(path, suffix, text, frame)
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
