"""The hostile matrix, ingest (issue #24): what the data contract does with columns named twice, ids
written as numbers and as text, ids with spaces around them, repeated or unknown items rows and
header-only optional tables. Each case is either one error line with exit code 2, or an ingest that
says what it stripped, merged or ignored; never silent."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from amae.data.contract import ValidationError, ingest_notes, load_dataset
from amae.data.io import DataError, read_table
from amae.data.workspace import load_workspace
from tests_helpers import run_cli as run

INTER_CSV = "user_id,item_id,timestamp\na,x,1700000000\nb,y,1700000100\na,y,1700000200\n"


def folder_with(root: Path, **files: str) -> Path:
    """A dataset folder holding ``files`` (name with its dot as ``_``: ``interactions_csv``)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return root


def jsonl(*records: str) -> str:
    return "".join(f"{r}\n" for r in records)


def assert_error(code: int, output: str, expected: str) -> None:
    """Exit code 2 and exactly one line, ``error: <expected>``."""
    assert code == 2, output
    assert output.strip().splitlines() == [f"error: {expected}"], output


# -- 1. a column named twice --------------------------------------------------------------------------
def test_csv_header_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_csv="user_id,item_id,user_id,timestamp\na,x,b,1700000000\n")
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert_error(code, output, f"{ds / 'interactions.csv'}: column 'user_id' appears more than once in the "
                               "header; name each column once")
    assert not (tmp_path / "ws" / "data" / "interactions.parquet").exists()


def test_json_record_repeating_a_key_is_refused_with_its_line(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_jsonl=jsonl(
        '{"user_id": "a", "item_id": "x", "timestamp": 1700000000}',
        '{"user_id": "a", "item_id": "x", "user_id": "b", "timestamp": 1700000100}'))
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert_error(code, output, f"{ds / 'interactions.jsonl'}: column 'user_id' appears more than once in one "
                               "record (line 2); name each column once")


def test_parquet_schema_naming_a_column_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ds").mkdir()
    table = pa.table([pa.array(["a"]), pa.array(["x"]), pa.array(["b"]), pa.array([1700000000])],
                     names=["user_id", "item_id", "user_id", "timestamp"])
    pq.write_table(table, tmp_path / "ds" / "interactions.parquet")
    code, output = run("ingest", tmp_path / "ds", "-w", tmp_path / "ws")
    assert_error(code, output, f"{tmp_path / 'ds' / 'interactions.parquet'}: column 'user_id' appears more "
                               "than once in the schema; name each column once")


def test_a_key_written_as_a_value_or_in_another_record_is_no_duplicate(tmp_path: Path) -> None:
    """Only a key repeated inside one record counts: the same words as a value, or one key per line, pass."""
    path = tmp_path / "posts.jsonl"
    path.write_text(jsonl('{"post_id": "p1", "user_id": "a", "timestamp": 1, "text": "user_id"}',
                          '{"post_id": "p2", "user_id": "a", "timestamp": 2, "text": "{\\"user_id\\": 1}"}',
                          '{"post_id": "p3", "timestamp": 3, "text": null}'), encoding="utf-8")
    assert read_table(path)["text"].tolist()[:2] == ["user_id", '{"user_id": 1}']
    csv = tmp_path / "x.csv"
    csv.write_text("user_id,user_id.1\na,b\n", encoding="utf-8")  # a real column called user_id.1
    assert read_table(csv).columns.tolist() == ["user_id", "user_id.1"]
    csv.write_text("a,b,a\n1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match="column 'a' appears more than once in the header"):
        read_table(csv)


# -- 2. an id written as a number and as text ------------------------------------------------------------
def test_number_and_text_printing_the_same_id_is_an_error(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_jsonl=jsonl(
        '{"user_id": 7, "item_id": "x", "timestamp": 1700000000}',
        '{"user_id": "7", "item_id": "y", "timestamp": 1700000100}',
        '{"user_id": "u8", "item_id": "y", "timestamp": 1700000200}'))
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert_error(code, output, "interactions.jsonl, column 'user_id': 1 id(s) appear both as a number and as "
                               "text (ids are text as written: quote them all) in 1 row(s): rows 1 e.g. '7'")


def test_a_number_clashing_with_a_text_id_once_its_spaces_are_stripped(tmp_path: Path) -> None:
    (tmp_path / "items.jsonl").write_text(jsonl('{"item_id": 3, "title": "A"}', '{"item_id": " 3 ", "title": "B"}'))
    with pytest.raises(ValidationError) as err:
        load_dataset(folder_with(tmp_path, interactions_csv="user_id,item_id,timestamp\na,3,1700000000\n"))
    assert str(err.value) == ("items.jsonl, column 'item_id': 1 id(s) appear both as a number and as text "
                              "(ids are text as written: quote them all) in 1 row(s): rows 1 e.g. '3'")


def test_numbers_only_or_distinct_mixed_ids_are_text_as_written(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_jsonl=jsonl(
        '{"user_id": 7, "item_id": 10, "timestamp": 1700000000}',
        '{"user_id": "u8", "item_id": 10, "timestamp": 1700000100}'),
                     posts_csv="post_id,user_id,timestamp\np1,7,1700000050\n")
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert code == 0, output
    ws = load_workspace(tmp_path / "ws")
    assert ws.users.ids.tolist() == ["7", "u8"] and ws.items.ids.tolist() == ["10"]
    assert ws.posts["user_idx"].tolist() == [0]  # the CSV's text 7 is the JSON's number 7: both print "7"


# -- 3. spaces around ids ------------------------------------------------------------------------------
def test_spaces_around_ids_are_stripped_and_counted(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds",
                     interactions_csv="user_id,item_id,timestamp\nu0,x,1700000000\nu0 ,x ,1700000100\n"
                                      "\tu1,y, 1700000200\n",
                     posts_csv="post_id,user_id,timestamp\n p1, u1,1700000300\n",
                     items_csv="item_id,title\n x,Ex\n")
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert code == 0, output
    assert ("  ids: 6 value(s) with spaces around them, stripped (interactions.csv user_id: 2, interactions.csv "
            "item_id: 1, posts.csv post_id: 1, posts.csv user_id: 1, items.csv item_id: 1)") in output.splitlines()
    ws = load_workspace(tmp_path / "ws")
    assert ws.users.ids.tolist() == ["u0", "u1"] and ws.items.ids.tolist() == ["x", "y"]
    assert ws.posts["post_id"].tolist() == ["p1"] and ws.posts["user_idx"].tolist() == [1]
    assert ws.item_info["item_id"].tolist() == ["x"] and ws.item_info["title"].tolist() == ["Ex"]
    assert ws.stats["ids_stripped"]["interactions.csv user_id"] == 2


def test_clean_ids_print_no_note(tmp_path: Path) -> None:
    code, output = run("ingest", folder_with(tmp_path / "ds", interactions_csv=INTER_CSV), "-w", tmp_path / "ws")
    assert code == 0, output
    assert output.strip().splitlines() == [f"ingested 2 users, 2 items, 3 interactions, 0 posts -> "
                                           f"{tmp_path / 'ws' / 'data'}"]


# -- 4. items rows repeated or of tracks never played ------------------------------------------------------
def test_repeated_and_unknown_items_rows_are_counted(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_csv=INTER_CSV,
                     items_csv="item_id,title\nx,First\nx,Second\nz,Never\nq,Never\nq,Again\n")
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert code == 0, output
    line = "  items: 1 duplicate row(s) for 1 id(s) (first kept), 3 row(s) for tracks never played (ignored)"
    assert line in output.splitlines()
    ws = load_workspace(tmp_path / "ws")
    assert ws.item_info["item_id"].tolist() == ["x"] and ws.item_info["title"].tolist() == ["First"]
    assert (ws.stats["items_duplicate_rows"], ws.stats["items_duplicate_ids"], ws.stats["items_unknown_rows"]) \
        == (1, 1, 3)
    code, output = run("ingest", ds, "-w", tmp_path / "ws")  # reused: the same summary
    assert code == 0 and output.startswith("reused") and line in output.splitlines(), output


def test_ingest_notes_are_empty_for_clean_stats() -> None:
    assert ingest_notes({"items_duplicate_rows": 0, "items_unknown_rows": 0, "n_users": 3}) == []
    assert ingest_notes({"items_unknown_rows": 2}) == ["items: 2 row(s) for tracks never played (ignored)"]


# -- 5. header-only optional tables --------------------------------------------------------------------
def test_header_only_posts_is_no_posts_with_a_warning(tmp_path: Path) -> None:
    ds = folder_with(tmp_path / "ds", interactions_csv=INTER_CSV, posts_csv="post_id,user_id,timestamp,text,media\n",
                     items_csv="item_id,title,artist\n")
    code, output = run("ingest", ds, "-w", tmp_path / "ws")
    assert code == 0, output
    assert output.strip().splitlines()[1:] == ["  warning: posts.csv has no rows: read as no posts",
                                               "  warning: items.csv has no rows: read as no items"]
    ws = load_workspace(tmp_path / "ws")
    assert ws.posts is None and ws.item_info is None and ws.stats["n_posts"] == 0
    assert json.loads((tmp_path / "ws" / "data" / "stats.json").read_text())["warnings"] == [
        "posts.csv has no rows: read as no posts", "items.csv has no rows: read as no items"]


@pytest.mark.parametrize(("files", "expected"), [
    ({"interactions_csv": "user_id,item_id,timestamp\n"}, "interactions.csv: table has no rows"),
    ({"interactions_csv": INTER_CSV, "posts_csv": "post_id,timestamp\n"},
     "posts.csv, column 'user_id': required column missing (found: post_id, timestamp)"),
])
def test_header_only_required_table_or_wrong_header_stays_an_error(tmp_path: Path, files: dict[str, str],
                                                                   expected: str) -> None:
    code, output = run("ingest", folder_with(tmp_path / "ds", **files), "-w", tmp_path / "ws")
    assert_error(code, output, expected)


def test_header_only_posts_when_posts_are_required_is_an_error(tmp_path: Path) -> None:
    ds = folder_with(tmp_path, interactions_csv=INTER_CSV, posts_csv="post_id,user_id,timestamp\n")
    with pytest.raises(ValidationError, match="^posts.csv: table has no rows$"):
        load_dataset(ds, require_posts=True)
