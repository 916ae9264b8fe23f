"""Cells and tuning trials on worker processes and on Dask give the numbers of one process, bit for
bit; ``kill -9`` of a parallel experiment leaves no worker, and the same command then finishes
with the numbers of an uninterrupted run."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from amae.data.io import read_json
from amae.data.workspace import ingest
from amae.experiments.parallel import Workers
from amae.experiments.runner import run_experiment
from amae.features.pipeline import extract_features
from amae.protocol.split import split_interactions

NEG = 20  # the tiny world has too few tracks for 99 negatives
PARAMS = {"epochs": 3, "patience": 1, "stage1_epochs": 1}
ARGS = ("II", [0, 1], "cpu")
KW = {"params": PARAMS, "methods": ["mf", "mf+amae"], "controls": ("noise",)}


@pytest.fixture(scope="module")
def prepared(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingested, split and with its features, but no cell yet: each run copies it."""
    ws = tmp_path_factory.mktemp("parallel") / "ws"
    ds = ingest(tiny_world, ws)
    split_interactions(ds.interactions, ds.n_items, seed=0, n_negatives=NEG).save(ws / "split")
    for modality in ("text", "visual"):
        extract_features(ws, modality, {}, n_jobs=1, progress=False)
    return ws


def _copy(prepared: Path, where: Path) -> Path:
    shutil.copytree(prepared, where)
    return where


def _numbers(results: dict) -> dict:
    """Every row's per-seed metrics (all protocols), the numbers a report is made of."""
    return {r["label"]: r.get("per_seed") for t in results["tables"].values() for r in t["rows"]} | \
        {f"{r['label']}~{c}": ctl.get("per_seed") for t in results["tables"].values() for r in t["rows"]
         for c, ctl in (r.get("controls") or {}).items()}


@pytest.fixture(scope="module")
def reference(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("reference")
    res = run_experiment(_copy(prepared, root / "ws"), root / "out", *ARGS, **KW, workers=Workers(1))
    assert res["trained_cells"] == 6 and res["config"]["workers"] == "this process"
    return _numbers(res)


@pytest.mark.parametrize("workers", [Workers(2, "local"), Workers(2, "dask")], ids=["pool", "dask"])
def test_workers_give_the_numbers_of_one_process(prepared: Path, reference: dict, tmp_path: Path,
                                                 workers: Workers) -> None:
    finished: list[tuple[int, int]] = []
    res = run_experiment(_copy(prepared, tmp_path / "ws"), tmp_path / "out", *ARGS, **KW, workers=workers,
                         on_cell=lambda done, total: finished.append((done, total)))
    assert _numbers(res) == reference
    assert finished == [(i, 6) for i in range(1, 7)]
    assert res["timings"]["cells, worker-seconds"] > 0 and "2 workers" in res["config"]["workers"]


def _experiment_cmd(ws: Path, out: Path) -> list[str]:
    code = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from amae.cli import app; app()"
    return [sys.executable, "-c", code, "experiment", str(ws), "--out", str(out), "--tables", "II", "--seeds", "2",
            "--method", "mf", "--method", "mf+amae", "--control", "noise", "-p", "epochs=3", "-p", "patience=1",
            "-p", "stage1_epochs=1", "--device", "cpu", "-j", "2"]


def _kill_after_first_cell(cmd: list[str], ws: Path) -> list[psutil.Process]:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        if list((ws / "models").glob("*/manifest.json")) and len(children) >= 2:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            return children
        if proc.poll() is not None:
            pytest.fail(f"the experiment ended before it could be killed: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no cell finished within 180 s")


def test_kill_9_leaves_no_worker_and_the_rerun_gives_the_same_numbers(prepared: Path, reference: dict,
                                                                      tmp_path: Path) -> None:
    ws, out = _copy(prepared, tmp_path / "ws"), tmp_path / "out"
    children = _kill_after_first_cell(_experiment_cmd(ws, out), ws)
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    done = subprocess.run(_experiment_cmd(ws, out), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    trained, reused = map(int, re.search(r"trained (\d+) cells, reused (\d+)", done.stdout).groups())
    assert trained + reused == 6 and reused >= 1 and trained >= 1, done.stdout
    assert _numbers(read_json(out / "results.json")) == reference
    assert not [d.name for d in (ws / "models").iterdir() if d.name.startswith(".")]  # the killed run's swept


def test_tuning_trials_in_parallel_give_the_same_search(prepared: Path, tmp_path: Path) -> None:
    from amae.data.workspace import load_workspace
    from amae.experiments.runs import load_split
    from amae.experiments.tuning import TRIAL_BATCH, tune

    records = []
    for workers in (Workers(1), Workers(2)):
        ws = _copy(prepared, tmp_path / f"ws{workers.n_jobs}")
        rec = tune(ws, load_workspace(ws), load_split(ws), "mf", {"epochs": 2, "patience": 1, "progress": False},
                   TRIAL_BATCH + 1, "cpu", workers=workers)
        assert rec["n_trials"] == TRIAL_BATCH + 1 and "batches of 4" in rec["scheme"]
        records.append({k: rec[k] for k in ("params", "trials", "best_valid_NDCG@10")})
    assert records[0] == records[1]
