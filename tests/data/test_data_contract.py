"""The data contract: loading, encoding and every kind of malformed input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from amae.data.contract import ValidationError, load_dataset, parse_timestamps
from amae.data.io import DataError


def write(folder: Path, name: str, frame: pd.DataFrame, fmt: str = "csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    return path


def good_interactions() -> pd.DataFrame:
    return pd.DataFrame({"user_id": ["a", "b", "a", "NA"], "item_id": ["x", "y", "y", "x"],
                         "timestamp": ["1700000000", "2023-11-14T22:13:21Z", "1700000100", "1700000200"]})


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_loads_every_format_and_encodes_ids(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, "interactions", good_interactions(), fmt)
    ds = load_dataset(tmp_path)
    assert ds.n_users == 3 and ds.n_items == 2
    assert "NA" in set(ds.users.ids)  # the string "NA" is an id, not a missing value
    assert ds.interactions["timestamp"].is_monotonic_increasing
    decoded = ds.users.decode(ds.interactions["user_idx"].to_numpy())
    assert sorted(decoded) == sorted(good_interactions()["user_id"])


def test_duplicates_are_dropped_and_counted(tmp_path: Path) -> None:
    frame = pd.concat([good_interactions(), good_interactions().iloc[:2]])
    write(tmp_path, "interactions", frame)
    ds = load_dataset(tmp_path)
    assert ds.stats["duplicates_dropped"] == 2
    assert len(ds.interactions) == 4


def test_posts_media_split_and_unknown_user(tmp_path: Path) -> None:
    write(tmp_path, "interactions", good_interactions())
    posts = pd.DataFrame({"post_id": [1, 2], "user_id": ["a", "zzz"], "timestamp": [1, 2],
                          "text": ["hi", None], "media": ["m/1.jpg;m/2.png", ""]})
    write(tmp_path, "posts", posts)
    with pytest.raises(ValidationError) as err:
        load_dataset(tmp_path)
    assert "posts.csv, column 'user_id': unknown user" in str(err.value)
    assert "rows 2" in str(err.value) and "zzz" in str(err.value)


def test_media_outside_folder_refused(tmp_path: Path) -> None:
    ds_dir = tmp_path / "ds"
    write(ds_dir, "interactions", good_interactions())
    (tmp_path / "secret.jpg").write_bytes(b"x")
    os.symlink(tmp_path / "secret.jpg", ds_dir / "link.jpg")
    posts = pd.DataFrame({"post_id": [1, 2, 3, 4], "user_id": ["a"] * 4, "timestamp": [1, 2, 3, 4],
                          "text": ["t"] * 4, "media": ["../secret.jpg", "/etc/passwd", "link.jpg", "ok.jpg"]})
    write(ds_dir, "posts", posts)
    with pytest.raises(ValidationError) as err:
        load_dataset(ds_dir)
    msg = str(err.value)
    assert "column 'media'" in msg and "3 row(s)" in msg and "rows 1, 2, 3" in msg


def test_empty_file_and_wrong_type(tmp_path: Path) -> None:
    (tmp_path / "interactions.csv").write_text("")
    with pytest.raises(DataError, match="interactions.csv: file is empty"):
        load_dataset(tmp_path)
    other = tmp_path / "o"
    other.mkdir()
    (other / "interactions.parquet").write_text("user_id,item_id\n1,2\n")
    with pytest.raises(DataError, match="interactions.parquet: cannot be read as parquet"):
        load_dataset(other)


def test_missing_interactions_table(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no interactions table"):
        load_dataset(tmp_path)


def test_parse_timestamps_mixed() -> None:
    secs, bad = parse_timestamps(pd.Series(["1700000000", "2024-01-01T00:00:00Z", "nope", None]))
    assert secs[:2].tolist() == [1700000000, 1704067200]
    assert bad.tolist() == [False, False, True, True]


column_names = st.sampled_from(["user_id", "item_id", "timestamp", "extra"])
cells = st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 2_000_000_000).map(str))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(column_names, min_size=1, max_size=4, unique=True),
       rows=st.lists(st.lists(cells, min_size=4, max_size=4), min_size=0, max_size=6))
def test_malformed_tables_give_data_errors_never_crashes(tmp_path: Path, columns: list[str],
                                                         rows: list[list]) -> None:
    """Whatever the table holds, loading either succeeds consistently or raises a DataError."""
    folder = tmp_path / f"h{abs(hash((tuple(columns), str(rows)))) % 10**9}"
    frame = pd.DataFrame([r[: len(columns)] for r in rows], columns=columns)
    write(folder, "interactions", frame)
    try:
        ds = load_dataset(folder)
    except DataError as exc:
        assert "interactions.csv" in str(exc) or "empty" in str(exc)
        return
    assert {"user_id", "item_id", "timestamp"} <= set(columns)
    assert len(ds.interactions) >= 1
    assert ds.interactions["user_idx"].between(0, ds.n_users - 1).all()
    assert np.issubdtype(ds.interactions["timestamp"].dtype, np.integer)


def test_atomic_writes_leave_no_partial_file(tmp_path: Path) -> None:
    from amae.data.io import FILE_MODE, atomic_path, write_json

    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json(target, {"a": 1})
    assert (target.stat().st_mode & 0o777) == FILE_MODE
