"""The on-disk data contract (docs/design.md section 2): load, validate and encode a dataset folder.

Validation collects every problem before failing, so one run tells the user all that is wrong
with table, row and column, counts and a few examples, instead of one error per attempt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.ids import IdMap
from amae.data.io import DataError, find_table, read_table, repair_text

REQUIRED_COLUMNS = {
    "interactions": ("user_id", "item_id", "timestamp"),
    "posts": ("post_id", "user_id", "timestamp"),
    "items": ("item_id",),
}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".avi", ".mkv")
MAX_EXAMPLES = 5


@dataclass
class Problem:
    """One kind of problem in one column of one table, with the affected rows."""

    table: str
    column: str
    message: str
    rows: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.table}, column '{self.column}'" if self.column else self.table
        text = f"{where}: {self.message}"
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_EXAMPLES])
            more = f" (+{len(self.rows) - MAX_EXAMPLES} more)" if len(self.rows) > MAX_EXAMPLES else ""
            text += f" in {len(self.rows)} row(s): rows {shown}{more}"
        if self.examples:
            text += " e.g. " + ", ".join(repr(e) for e in self.examples[:MAX_EXAMPLES])
        return text


class ValidationError(DataError):
    """Raised with every problem found; ``str()`` is one line naming table, rows and columns."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


@dataclass
class Dataset:
    """An encoded dataset: dense ``user_idx``/``item_idx``/``post_idx`` columns and the id maps.

    ``interactions``: user_idx, item_idx, timestamp (int64 unix seconds), sorted by time.
    ``posts``: post_idx, user_idx, timestamp, text, media (list of relative paths) or None.
    """

    root: Path
    interactions: pd.DataFrame
    users: IdMap
    items: IdMap
    posts: pd.DataFrame | None = None
    item_info: pd.DataFrame | None = None
    stats: dict = field(default_factory=dict)
    #: what the last ingest did: ``{"reused": bool, "changes": [...]}`` (not saved)
    provenance: dict = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def has_content(self) -> bool:
        return self.posts is not None and len(self.posts) > 0


def _rows(mask: np.ndarray | pd.Series) -> list[int]:
    """1-based data row numbers (the header is not counted)."""
    return (np.flatnonzero(np.asarray(mask)) + 1).tolist()


def _seconds(ts: pd.Series) -> np.ndarray:
    """Whole unix seconds of a tz-aware datetime series, whatever its internal resolution."""
    naive = pd.Series(ts).dt.tz_convert("UTC").dt.tz_localize(None)
    arr = naive.to_numpy(dtype="datetime64[s]")  # no nanosecond step: year 9999 does not overflow
    out = arr.astype(np.int64)
    out[np.isnat(arr)] = 0
    return out


#: The range of every timestamp amae accepts, in unix seconds: 1970-01-01T00:00:00Z (inclusive) to
#: 2100-01-01T00:00:00Z (exclusive). Anything else (NaN, inf, 1e20, year 9999, booleans) is an error.
MIN_TIME, MAX_TIME = 0, 4_102_444_800
TIME_RANGE = "unix seconds or ISO-8601 between 1970-01-01 and 2100-01-01"


def _bool_cells(values: pd.Series) -> np.ndarray:
    """Cells holding a boolean (never a time, though pandas would read True as 1)."""
    if values.dtype == bool:
        return np.ones(len(values), dtype=bool)
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((type(v) is bool or isinstance(v, np.bool_) for v in values.to_numpy()), bool, len(values))


def parse_timestamps(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Unix seconds or ISO-8601 / datetime values to int64 seconds; also a bad-value mask.

    Bad: unparseable, non-finite, booleans, or outside [:data:`MIN_TIME`, :data:`MAX_TIME`); the
    range is checked before any cast, so nothing overflows into a silent wrong value.
    """
    n = len(values)
    secs = np.zeros(n, dtype=np.int64)
    if pd.api.types.is_datetime64_any_dtype(values):
        ts = pd.to_datetime(values, utc=True)
        raw = _seconds(ts).astype(np.float64)
        ok = ts.notna().to_numpy() & (raw >= MIN_TIME) & (raw < MAX_TIME)
        secs[ok] = raw[ok].astype(np.int64)
        return secs, ~ok
    is_bool = _bool_cells(values)
    numeric = pd.to_numeric(values.where(~is_bool), errors="coerce").astype("float64").to_numpy()
    is_num = ~np.isnan(numeric) & ~is_bool
    with np.errstate(invalid="ignore"):
        in_range = is_num & np.isfinite(numeric) & (numeric >= MIN_TIME) & (numeric < MAX_TIME)
    secs[in_range] = numeric[in_range].astype(np.int64)
    ok = in_range.copy()
    rest = ~is_num & ~is_bool & values.notna().to_numpy()
    if rest.any():
        idx = np.flatnonzero(rest)
        parsed = pd.to_datetime(values[rest].astype(str), utc=True, errors="coerce", format="ISO8601")
        good = parsed.notna().to_numpy()
        raw = np.full(len(idx), np.nan)
        raw[good] = _seconds(parsed[good]).astype(np.float64)
        fits = good & (raw >= MIN_TIME) & (raw < MAX_TIME)
        secs[idx[fits]] = raw[fits].astype(np.int64)
        ok[idx[fits]] = True
    return secs, ~ok


def _check_columns(table: str, frame: pd.DataFrame, path: Path, problems: list[Problem]) -> bool:
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    if missing:
        problems.append(Problem(path.name, ", ".join(missing), "required column missing"
                                f" (found: {', '.join(map(str, frame.columns)) or 'none'})"))
        return False
    if len(frame) == 0:
        problems.append(Problem(path.name, "", "table has no rows"))
        return False
    for col in REQUIRED_COLUMNS[table]:
        empty = frame[col].isna() | (frame[col].astype(str).str.strip() == "")
        if empty.all():
            problems.append(Problem(path.name, col, "required column is empty"))
        elif empty.any():
            problems.append(Problem(path.name, col, "empty value", _rows(empty)))
    return True


def _parse_media(values: pd.Series) -> list[list[str]]:
    out: list[list[str]] = []
    for v in values.tolist():  # per-row parsing of user strings; runs once at ingest
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append([])
        elif isinstance(v, str):
            out.append([p.strip() for p in v.split(";") if p.strip()])
        else:
            out.append([str(p) for p in list(v) if str(p).strip()])
    return out


def media_path_problem(root: Path, rel: str) -> str | None:
    """Why ``rel`` may not be used as a media path of the dataset at ``root`` (None when fine)."""
    p = Path(rel)
    if p.is_absolute() or rel.startswith(("/", "\\")):
        return "absolute path"
    if ".." in p.parts:
        return "path leaves the dataset folder ('..')"
    real_root = os.path.realpath(root)
    real = os.path.realpath(root / p)
    if os.path.commonpath([real_root, real]) != real_root:
        return "path resolves outside the dataset folder (symlink)"
    return None


def _symlinks_inside(root: Path) -> list[str]:
    """Relative paths of symlinks under ``root``: the only way a clean relative path can escape.

    ``os.scandir`` entries answer ``is_symlink`` from the directory listing, without a stat per file.
    """
    found: list[str] = []
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_symlink():
                    found.append(os.path.relpath(entry.path, root))
                elif entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
    return found


def _media_problems(root: Path, media: list[list[str]]) -> tuple[list[int], list[str]]:
    """Rows (1-based) whose media leave the dataset folder, and examples; vectorised over paths.

    Absolute paths and ``..`` are string tests on the flat path column; ``realpath`` is needed
    only for paths under one of the folder's symlinks, which are found once.
    """
    flat = pd.Series(media, dtype=object).explode().dropna()
    if flat.empty:
        return [], []
    rows = flat.index.to_numpy()
    paths = pd.Series(flat.astype(str).to_numpy())
    reason = np.full(len(paths), None, dtype=object)
    reason[paths.str.contains(r"(?:^|[/\\])\.\.(?:[/\\]|$)", regex=True).to_numpy()] = \
        "path leaves the dataset folder ('..')"
    reason[paths.str.match(r"^(?:[/\\]|[A-Za-z]:)").to_numpy()] = "absolute path"
    links = _symlinks_inside(root)
    if links:
        for pos in np.flatnonzero(paths.str.startswith(tuple(links)).to_numpy() & (reason == None)):  # noqa: E711
            reason[pos] = media_path_problem(root, paths.iloc[pos])
    bad = pd.DataFrame({"row": rows, "path": paths, "reason": reason}).dropna(subset=["reason"])
    bad = bad.drop_duplicates("row")
    examples = [f"{p} ({r})" for p, r in zip(bad["path"][:MAX_EXAMPLES], bad["reason"][:MAX_EXAMPLES], strict=True)]
    return (bad["row"].to_numpy() + 1).tolist(), examples


def _stripped(values: pd.Series) -> tuple[pd.Series, int]:
    """Text cells without surrounding whitespace, and how many changed (other cells untouched)."""
    if values.dtype != object and not pd.api.types.is_string_dtype(values):
        return values, 0
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "mixed", "mixed-integer"):
        return values, 0
    stripped = values.str.strip()
    changed = (stripped.notna() & (stripped != values)).to_numpy(bool)
    if not changed.any():
        return values, 0
    return values.where(~changed, stripped), int(changed.sum())


def _number_text_clash(values: pd.Series, path: Path, column: str, problems: list[Problem]) -> None:
    """Report ids written both as a JSON number and as text that print the same (``7`` and ``"7"``).

    Ids are text as written, so the two would otherwise be silently merged into one user. Keeping
    them apart instead would make two users that look identical in every output (ids are printed,
    never typed), so neither is right: the file must say which it means, by quoting its ids.
    """
    if values.dtype != object or pd.api.types.infer_dtype(values, skipna=True) not in ("mixed", "mixed-integer"):
        return
    is_text = values.str.len().notna().to_numpy(bool)
    numbers = values[~is_text & values.notna().to_numpy(bool)].astype(str)
    clash = numbers.isin(set(values[is_text]))
    if clash.any():
        both = numbers[clash].unique().tolist()
        problems.append(Problem(path.name, column, f"{len(both)} id(s) appear both as a number and as text "
                                "(ids are text as written: quote them all)",
                                (clash.index[clash.to_numpy()].to_numpy() + 1).tolist(), both))


def _clean_ids(frame: pd.DataFrame, columns: tuple[str, ...], path: Path, problems: list[Problem],
               stats: dict) -> pd.DataFrame:
    """Id cells as amae keys them (documented in the README's data contract):

    - undecodable bytes become U+FFFD (ids stay distinct and storable);
    - surrounding whitespace is stripped, like around a timestamp, so ``u0`` and ``"u0 "`` are one id;
      the stripped cells are counted in ``stats["ids_stripped"]`` (per table and column);
    - a number and a text that print the same in one column are a problem (:func:`_number_text_clash`).
    """
    for col in columns:
        if col in frame.columns:
            values, _ = repair_text(frame[col])
            values, n_stripped = _stripped(values)
            if n_stripped:
                stats.setdefault("ids_stripped", {})[f"{path.name} {col}"] = n_stripped
            _number_text_clash(values, path, col, problems)
            frame[col] = values
    return frame


#: media paths one post may list at ingest (a post with 1,000 paths is an error, not 1,000 decodes)
MAX_MEDIA_PER_POST = 100


@dataclass
class _RawTables:
    """The tables of a dataset folder as read (ids repaired), and whether each has its required columns."""

    inter: pd.DataFrame
    inter_path: Path
    inter_ok: bool
    posts: pd.DataFrame | None
    posts_path: Path | None
    posts_ok: bool
    items: pd.DataFrame | None


#: the id columns of each table (cleaned by :func:`_clean_ids`)
ID_COLUMNS = {"interactions": ("user_id", "item_id"), "posts": ("post_id", "user_id"), "items": ("item_id",)}


def _read_one(folder: Path, name: str, required: bool, problems: list[Problem],
              stats: dict) -> tuple[pd.DataFrame | None, Path | None, bool]:
    """One table as read (ids cleaned), its path, and whether it has its required columns and rows.

    A missing required table is fatal at once: nothing else can be checked without it. An optional
    table with its columns but no rows (a header-only CSV) is no table, with a warning in ``stats``.
    """
    path = find_table(folder, name)
    if path is None:
        if required:
            raise DataError(f"{folder}: no {name} table (expected {name}.parquet, .csv or .jsonl)")
        return None, None, False
    raw = _clean_ids(read_table(path), ID_COLUMNS[name], path, problems, stats)
    if not required and len(raw) == 0 and all(c in raw.columns for c in REQUIRED_COLUMNS[name]):
        stats.setdefault("warnings", []).append(f"{path.name} has no rows: read as no {name}")
        return None, None, False
    return raw, path, _check_columns(name, raw, path, problems)


def _read_tables(folder: Path, require_posts: bool, problems: list[Problem], stats: dict) -> _RawTables:
    """Read the interactions, posts and items tables, collecting missing/empty column problems."""
    inter, inter_path, inter_ok = _read_one(folder, "interactions", True, problems, stats)
    posts, posts_path, posts_ok = _read_one(folder, "posts", require_posts, problems, stats)
    items, _, _ = _read_one(folder, "items", False, problems, stats)
    assert inter is not None and inter_path is not None
    return _RawTables(inter, inter_path, inter_ok, posts, posts_path, posts_ok, items)


def _checked_timestamps(raw: pd.DataFrame, path: Path, problems: list[Problem]) -> np.ndarray:
    """A table's timestamps in unix seconds; a bad (non-empty) value is a problem listing its rows.

    Empty cells are already reported by :func:`_check_columns`, so they are not counted twice.
    """
    ts, bad = parse_timestamps(raw["timestamp"])
    bad &= raw["timestamp"].notna().to_numpy()
    if bad.any():
        problems.append(Problem(path.name, "timestamp", f"unparseable or out-of-range timestamp "
                                f"(accepted: {TIME_RANGE})", _rows(bad), raw["timestamp"][bad].astype(str).tolist()))
    return ts


def _checked_interactions(raw: pd.DataFrame, path: Path, problems: list[Problem]) -> pd.DataFrame:
    """Interactions as string ids and int64 seconds (problems collected, not raised)."""
    ts = _checked_timestamps(raw, path, problems)
    return pd.DataFrame({"user_id": raw["user_id"].astype(str), "item_id": raw["item_id"].astype(str),
                         "timestamp": ts})


def _checked_posts(raw: pd.DataFrame, path: Path, folder: Path, max_media_per_post: int,
                   problems: list[Problem], stats: dict) -> pd.DataFrame:
    """Posts with repaired text and parsed media lists; bad times, unsafe or too many media paths and
    duplicate post ids are collected as problems, undecodable text is only counted in ``stats``."""
    ts = _checked_timestamps(raw, path, problems)
    text = raw["text"] if "text" in raw.columns else pd.Series([None] * len(raw))
    # Undecodable bytes in one post's text: replaced (U+FFFD) and flagged for that row, never a refusal.
    text, invalid_text = repair_text(text)
    stats["posts_text_undecodable"] = int(invalid_text.sum())
    no_media: list[list[str]] = [[] for _ in range(len(raw))]
    media = _parse_media(raw["media"]) if "media" in raw.columns else no_media
    bad_media_rows, examples = _media_problems(folder, media)
    if bad_media_rows:
        problems.append(Problem(path.name, "media", "media path outside the dataset folder", bad_media_rows, examples))
    dup_ids = raw["post_id"].astype(str).duplicated().to_numpy()
    if dup_ids.any():
        problems.append(Problem(path.name, "post_id", "duplicate post_id", _rows(dup_ids),
                                raw["post_id"][dup_ids].astype(str).tolist()))
    posts = pd.DataFrame({"post_id": raw["post_id"].astype(str), "user_id": raw["user_id"].astype(str),
                          "timestamp": ts, "text": text.where(text.notna(), None).astype(object),
                          "media": media, "text_invalid_utf8": invalid_text})
    n_paths = np.fromiter(map(len, media), np.int64, len(media))
    too_many = n_paths > max_media_per_post
    if too_many.any():
        problems.append(Problem(path.name, "media", f"more than {max_media_per_post} media paths in one "
                                f"post ({int(n_paths[too_many].sum())} paths refused; raise the limit with "
                                "--max-media-per-post)", _rows(too_many), n_paths[too_many].astype(str).tolist()))
    return posts


def _check_post_users(interactions: pd.DataFrame, posts: pd.DataFrame, path: Path, problems: list[Problem]) -> None:
    """Every post's user must have interactions: a post of nobody we recommend to is a data error."""
    known = set(interactions["user_id"].unique())
    unknown = ~posts["user_id"].isin(known).to_numpy()
    if unknown.any():
        problems.append(Problem(path.name, "user_id", "unknown user (not in interactions)",
                                _rows(unknown), posts["user_id"][unknown].unique().tolist()))


def _encode_interactions(interactions: pd.DataFrame, stats: dict) -> tuple[pd.DataFrame, IdMap, IdMap]:
    """Exact duplicates dropped (counted), dense user/item indices, rows sorted by time."""
    before = len(interactions)
    interactions = interactions.drop_duplicates(["user_id", "item_id", "timestamp"])
    stats["duplicates_dropped"] = before - len(interactions)
    users = IdMap.fit(interactions["user_id"])
    items = IdMap.fit(interactions["item_id"])
    enc = pd.DataFrame({"user_idx": users.encode(interactions["user_id"]),
                        "item_idx": items.encode(interactions["item_id"]),
                        "timestamp": interactions["timestamp"].to_numpy(np.int64)})
    enc = enc.sort_values(["timestamp", "user_idx", "item_idx"], kind="stable").reset_index(drop=True)
    return enc, users, items


def _encode_posts(posts: pd.DataFrame, users: IdMap) -> pd.DataFrame:
    """Posts sorted by time, numbered (``post_idx``), their users encoded with the interactions' map."""
    posts = posts.sort_values(["timestamp", "post_id"], kind="stable").reset_index(drop=True)
    return pd.DataFrame({"post_idx": np.arange(len(posts), dtype=np.int64), "post_id": posts["post_id"],
                         "user_idx": users.encode(posts["user_id"]),
                         "timestamp": posts["timestamp"].to_numpy(np.int64),
                         "text": posts["text"], "media": posts["media"],
                         "text_invalid_utf8": posts["text_invalid_utf8"].to_numpy(bool)})


def _encode_items(items_raw: pd.DataFrame, items: IdMap, stats: dict) -> pd.DataFrame:
    """Item info of the items that occur in interactions (one row each), ordered by ``item_idx``.

    Counted in ``stats``: rows repeating a played item's id (the first row is kept:
    ``items_duplicate_rows`` over ``items_duplicate_ids`` ids) and rows of items never played
    (``items_unknown_rows``, ignored).
    """
    item_info = items_raw.assign(item_id=items_raw["item_id"].astype(str))
    known = item_info["item_id"].isin(set(items.ids))
    repeated = known & item_info["item_id"].duplicated()
    stats.update(items_unknown_rows=int((~known).sum()), items_duplicate_rows=int(repeated.sum()),
                 items_duplicate_ids=int(item_info["item_id"][repeated].nunique()))
    item_info = item_info[known].drop_duplicates("item_id")
    item_info.insert(0, "item_idx", items.encode(item_info["item_id"]))
    return item_info.sort_values("item_idx").reset_index(drop=True)


def load_dataset(folder: Path, *, require_posts: bool = False, max_media_per_post: int = MAX_MEDIA_PER_POST) -> Dataset:
    """Load, validate and encode a dataset folder; raise ValidationError listing every problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: dataset folder does not exist")
    problems: list[Problem] = []
    stats: dict = {}
    raw = _read_tables(folder, require_posts, problems, stats)
    interactions = _checked_interactions(raw.inter, raw.inter_path, problems) if raw.inter_ok else None
    posts = None
    if raw.posts_ok:
        assert raw.posts is not None and raw.posts_path is not None
        posts = _checked_posts(raw.posts, raw.posts_path, folder, max_media_per_post, problems, stats)
    if interactions is not None and posts is not None:
        _check_post_users(interactions, posts, raw.posts_path, problems)
    if problems:
        raise ValidationError(problems)
    assert interactions is not None

    enc, users, items = _encode_interactions(interactions, stats)
    enc_posts = _encode_posts(posts, users) if posts is not None else None
    item_info = _encode_items(raw.items, items, stats) if raw.items is not None else None
    stats.update(n_users=len(users), n_items=len(items), n_interactions=len(enc),
                 n_posts=0 if enc_posts is None else len(enc_posts),
                 n_media=0 if enc_posts is None else int(enc_posts["media"].map(len).sum()))
    return Dataset(folder, enc, users, items, enc_posts, item_info, stats)


def ingest_notes(stats: dict) -> list[str]:
    """What an ingest changed or left out without refusing the data, one line each (for the CLI)."""
    notes = [f"warning: {w}" for w in stats.get("warnings", [])]
    stripped = stats.get("ids_stripped", {})
    if stripped:
        where = ", ".join(f"{k}: {v}" for k, v in stripped.items())
        notes.append(f"ids: {sum(stripped.values())} value(s) with spaces around them, stripped ({where})")
    parts = []
    if stats.get("items_duplicate_rows"):
        parts.append(f"{stats['items_duplicate_rows']} duplicate row(s) for {stats['items_duplicate_ids']} "
                     "id(s) (first kept)")
    if stats.get("items_unknown_rows"):
        parts.append(f"{stats['items_unknown_rows']} row(s) for tracks never played (ignored)")
    if parts:
        notes.append("items: " + ", ".join(parts))
    return notes
