"""The CLI end to end on a tiny synthetic world: ingest, split, features (resumable), train, evaluate."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from amae.cli import app
from amae.data.synthetic import WorldConfig, generate_world
from amae.experiments.runs import find_cells

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("world")
    generate_world(folder, WorldConfig(n_users=30, n_items=240, n_days=10, image_share=0.1, n_videos=1, seed=3))
    return folder


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_pipeline_commands(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert "ingested 30 users" in invoke("ingest", str(world), "-w", str(ws))
    cfg = tmp_path / "c.toml"
    cfg.write_text("[split]\nseed = 4\n[train]\nprogress = false\n[train.models.mf]\nepochs = 2\n")
    assert "split (temporal)" in invoke("split", str(ws), "--config", str(cfg))
    assert tomllib.loads((ws / "split" / "config.toml").read_text())["split"]["seed"] == 4

    out = invoke("features", str(ws), "--modality", "text", "-j", "1")
    assert "text features" in out and (ws / "features" / "text" / "text_h.npy").exists()
    report_file = ws / "features" / "text" / "report.json"
    made = report_file.stat().st_mtime_ns
    again = invoke("features", str(ws), "--modality", "text", "-j", "1")
    assert "shards reused, nothing recomputed" in again and "skipped media" not in again
    assert report_file.stat().st_mtime_ns == made  # nothing recomputed or rewritten on the second run

    invoke("train", str(ws), "-m", "itempop", "-m", "mf", "--config", str(cfg), "--seed", "0", "--device", "cpu")
    (cell,) = find_cells(ws, "mf", 0)
    metrics = json.loads((cell / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and {"sampled", "full", "sampled_new_pairs"} <= set(metrics)
    assert (cell / "weights.safetensors").exists() and (cell / "config.toml").exists()
    assert np.load(cell / "sampled_ranks.npy").shape == (metrics["sampled"]["n"],)
    table = invoke("evaluate", str(ws), "-m", "itempop", "-m", "mf")
    assert "itempop" in table and "mf" in table


def test_interrupted_extraction_resumes(world: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    invoke("ingest", str(world), "-w", str(ws))
    invoke("features", str(ws), "--modality", "text", "-j", "1", "--batch-size", "64")
    folder = ws / "features" / "text"
    full = np.load(folder / "text_h.npy")
    shards = sorted((folder / "shards").glob("shard-*.npz"))
    assert len(shards) > 2
    shards[1].unlink()  # as if the run had stopped before this shard
    (folder / "text_h.npy").unlink()
    invoke("features", str(ws), "--modality", "text", "-j", "1", "--batch-size", "64")
    report = json.loads((folder / "report.json").read_text())
    assert report["shards_reused"] == report["n_shards"] - 1
    assert np.array_equal(np.load(folder / "text_h.npy"), full)


def test_ncf_ingest_keeps_given_split(shared_data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    out = invoke("ingest", str(shared_data / "deepcf" / "lastfm"), "--format", "ncf", "-w", str(ws))
    assert "given split" in out
    info = json.loads((ws / "split" / "split.json").read_text())
    assert info["method"] == "ncf-given" and info["n_test"] == 1741
    # the given split is recognised as drawn from this very data: an experiment keeps it
    from amae.data.workspace import load_workspace
    from amae.protocol.split import split_workspace

    kept, why = split_workspace(ws, load_workspace(ws), keep_existing=True)
    assert why == [] and kept.info["method"] == "ncf-given"


def test_world_writes_the_synthetic_dataset_and_its_null_variant(tmp_path: Path) -> None:
    out = invoke("world", str(tmp_path / "null"), "--users", "12", "--days", "4", "--mood-strength", "0", "--seed", "5")
    assert "mood strength 0.0" in out and (tmp_path / "null" / "interactions.parquet").exists()
    config = json.loads((tmp_path / "null" / "_world.json").read_text())["config"]
    assert config["mood_strength"] == 0.0 and config["n_users"] == 12 and config["seed"] == 5
    bad = runner.invoke(app, ["world", str(tmp_path / "bad"), "--mood-strength", "-1"])
    assert bad.exit_code == 2 and "--mood-strength" in bad.output


def test_world_shapes_its_posts(tmp_path: Path) -> None:
    """Fewer posts a day and an image-heavy feed: the shapes the capture benchmark is run on."""
    import pandas as pd

    counts = {}
    for name, args in (("few", ["--posts-per-day", "0.5", "--image-share", "0.5"]), ("many", [])):
        invoke("world", str(tmp_path / name), "--users", "12", "--days", "6", *args)
        posts = pd.read_parquet(tmp_path / name / "posts.parquet")
        counts[name] = (len(posts), float(posts["media"].map(len).gt(0).mean()))
    assert counts["few"][0] < counts["many"][0] / 2
    assert counts["few"][1] > 3 * counts["many"][1]
    for flag, value in (("--posts-per-day", "0"), ("--image-share", "1.5")):
        bad = runner.invoke(app, ["world", str(tmp_path / "bad"), flag, value])
        assert bad.exit_code == 2 and flag in bad.output
