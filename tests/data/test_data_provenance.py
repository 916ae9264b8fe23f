"""Provenance: no stale result is reused, and an unchanged re-run reuses everything and says so."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from amae.cli import app
from amae.data.provenance import Manifest, changes, check, frame_digest, read_manifest, seal
from amae.data.synthetic import WorldConfig, generate_world
from amae.experiments.runs import find_cells
from amae.features.extract import load_group

runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("prov") / "world"
    generate_world(folder, WorldConfig(n_users=24, n_items=200, n_days=8, image_share=0.0, n_videos=0, seed=2))
    return folder


def _changed_texts(world: Path, out: Path) -> Path:
    """The same dataset with every post's text changed (same number of posts, same ids and times)."""
    import shutil

    shutil.copytree(world, out)
    posts = pd.read_parquet(out / "posts.parquet")
    posts["text"] = posts["text"].fillna("") + " 完全不同的文字 entirely different words"
    posts.to_parquet(out / "posts.parquet")
    return out


def _pipeline(world: Path, ws: Path) -> None:
    invoke("ingest", str(world), "-w", str(ws))
    invoke("split", str(ws))
    invoke("features", str(ws), "--modality", "text", "-j", "1")


def test_manifest_changes_name_what_differs(tmp_path: Path) -> None:
    a = Manifest("split", {"data": "abc"}, {"method": "temporal", "seed": 0})
    b = Manifest("split", {"data": "abd"}, {"method": "random", "seed": 0})
    assert changes(None, a) == ["no complete earlier result"]
    assert changes(a, a) == []
    assert changes(a, b) == ["input 'data' changed", "config 'method' \"temporal\" -> \"random\""]
    seal(tmp_path, a)
    assert check(tmp_path, a) == [] and read_manifest(tmp_path).digest() == a.digest()
    (tmp_path / "manifest.json").write_text("{broken")
    assert check(tmp_path, a) == ["no complete earlier result"]  # a half-written manifest is no manifest
    frame = pd.DataFrame({"t": ["x", None], "m": [["a"], []]})
    moved = pd.DataFrame({"t": ["x", None], "m": [[], ["a"]]})
    assert frame_digest(frame) == frame_digest(frame.copy()) != frame_digest(moved)


def test_changed_texts_recompute_the_text_features(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _pipeline(world, ws)
    stale = {g: np.array(load_group(ws / "features", g)[0]) for g in ("text_h", "text_d")}
    changed = _changed_texts(world, tmp_path / "changed")
    out = invoke("ingest", str(changed), "-w", str(ws))
    assert "ingested" in out and "input 'posts.parquet' changed" in out
    out = invoke("features", str(ws), "--modality", "text", "-j", "1")
    assert "recomputed because" in out and "input 'posts' changed" in out and " 0 of " in out
    fresh = tmp_path / "fresh"
    _pipeline(changed, fresh)
    for g, old in stale.items():
        now, clean = load_group(ws / "features", g)[0], load_group(fresh / "features", g)[0]
        assert not np.array_equal(now, old), g  # the stale values are gone ...
        np.testing.assert_array_equal(now, clean, err_msg=g)  # ... replaced by exactly a fresh workspace's


def test_unchanged_rerun_reuses_everything_and_says_so(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _pipeline(world, ws)
    invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "--seed", "0", "--device", "cpu")
    stamps = {p: p.stat().st_mtime_ns for p in ws.rglob("*") if p.is_file()}
    assert "reused (same tables" in invoke("ingest", str(world), "-w", str(ws))
    assert "reused (same data and settings)" in invoke("split", str(ws))
    assert "nothing recomputed" in invoke("features", str(ws), "--modality", "text", "-j", "1")
    assert "reused: data, split" in invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "--seed", "0",
                                           "--device", "cpu")
    rewritten = [p for p, t in stamps.items() if p.stat().st_mtime_ns != t and p.name != "config.toml"]
    assert rewritten == []


def test_new_split_retrains_cells_and_refits_the_text_model(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _pipeline(world, ws)
    model = ws / "features" / "text" / "model"
    fitted = read_manifest(model).digest()
    invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "--seed", "0", "--device", "cpu")
    (cell,) = find_cells(ws, "mf", 0)
    n_cases = json.loads((cell / "metrics.json").read_text())["sampled"]["n"]
    out = invoke("split", str(ws), "--method", "random")
    assert "recomputed because" in out and "config 'method'" in out
    out = invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "--seed", "0", "--device", "cpu")
    assert "input 'split' changed" in out
    metrics = json.loads((cell / "metrics.json").read_text())
    test_cases = pd.read_parquet(ws / "split" / "test_cases.parquet")
    assert metrics["sampled"]["n"] == len(test_cases) != n_cases  # evaluated on the new split's cases
    out = invoke("features", str(ws), "--modality", "text", "-j", "1")
    assert "input 'text_model' changed" in out
    assert read_manifest(model).digest() != fitted  # Word2Vec + SIF refitted on the new training posts


def test_changed_parameter_trains_a_new_cell_beside_the_old(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    _pipeline(world, ws)
    invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "--seed", "0", "--device", "cpu")
    invoke("train", str(ws), "-m", "mf", "-p", "epochs=2", "-p", "dim=8", "--seed", "0", "--device", "cpu")
    cells = find_cells(ws, "mf", 0)
    assert len(cells) == 2
    dims = sorted(json.loads((c / "model.json").read_text())["params"].get("dim", 16) for c in cells)
    assert dims == [8, 16]
    table = invoke("evaluate", str(ws), "-m", "mf")
    assert all(c.name.rsplit("-seed", 1)[0] in table for c in cells)  # both variants, named by their hash
    one = invoke("evaluate", str(ws), "-m", "mf", "-p", "epochs=2", "-p", "dim=8")
    assert one.count("mf") >= 1
    ambiguous = runner.invoke(app, ["recommend", "-w", str(ws), "-m", "mf", "--user", "u0001"])
    assert ambiguous.exit_code == 2 and "2 variants" in ambiguous.output
    picked = runner.invoke(app, ["recommend", "-w", str(ws), "-m", cells[0].name, "--user", "u0001", "--json"])
    assert picked.exit_code == 0, picked.output
