"""No orphans: killing ``amae features`` (SIGKILL or Ctrl-C) leaves no worker alive, and a re-run
completes to exactly the bytes of an uninterrupted run; a half-written shard is redone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest
from amae.features.pipeline import extract_features

#: small shards for the interrupted runs, so the work cannot finish before the signal lands
BATCH = "6"
#: outputs do not depend on the batch size: the uninterrupted reference runs in large shards
FAST_BATCH = 400


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("life") / "world"
    generate_world(folder, WorldConfig(n_users=60, n_items=200, n_days=30, image_share=0.0, n_videos=0, seed=4))
    return folder


def _workspace(world: Path, ws: Path) -> Path:
    ingest(world, ws)
    return ws


def _features_cmd(ws: Path) -> list[str]:
    # A shell that starts jobs in the background makes them ignore SIGINT (and Python then installs no
    # KeyboardInterrupt handler): restore it, as a terminal's foreground job has it.
    code = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); from amae.cli import app; app()"
    return [sys.executable, "-c", code, "features", str(ws), "--modality", "text", "-j", "2", "--batch-size", BATCH]


def _outputs(ws: Path) -> dict[str, bytes]:
    folder = ws / "features" / "text"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.suffix in (".npy", ".parquet")}


def _start_and_wait_for_shards(ws: Path, n: int = 2) -> tuple[subprocess.Popen, list[psutil.Process]]:
    proc = subprocess.Popen(_features_cmd(ws), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    shards = ws / "features" / "text" / "shards"
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while time.monotonic() < deadline:
        children = psutil.Process(proc.pid).children(recursive=True)
        if len(list(shards.glob("shard-*.npz"))) >= n and len(children) >= 2:
            return proc, children
        if proc.poll() is not None:
            pytest.fail(f"amae features ended before it could be interrupted: {proc.communicate()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail("no shard appeared within 120 s")


def _all_gone(procs: list[psutil.Process], seconds: float = 10.0) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=seconds)
    return [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_sigkill_leaves_no_worker_and_rerun_gives_identical_bytes(world: Path, tmp_path: Path) -> None:
    clean = _workspace(world, tmp_path / "clean")
    extract_features(clean, "text", {}, n_jobs=1, batch_size=FAST_BATCH, progress=False)
    ws = _workspace(world, tmp_path / "ws")
    proc, children = _start_and_wait_for_shards(ws)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert _all_gone(children) == [], "workers outlived their killed parent"
    done = len(list((ws / "features" / "text" / "shards").glob("shard-*.npz")))
    rerun = subprocess.run(_features_cmd(ws), capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{done} of" in rerun.stdout or "reused" in rerun.stdout
    assert _outputs(ws) == _outputs(clean)


def test_ctrl_c_stops_workers_with_one_line(world: Path, tmp_path: Path) -> None:
    ws = _workspace(world, tmp_path / "ws")
    proc, children = _start_and_wait_for_shards(ws)
    os.kill(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, "the extraction finished before Ctrl-C arrived: make it longer"
    assert proc.returncode == 130
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted:"), err
    assert "Traceback" not in err
    assert _all_gone(children) == []


def test_half_written_shard_is_redone(world: Path, tmp_path: Path) -> None:
    ws = _workspace(world, tmp_path / "ws")
    extract_features(ws, "text", {}, n_jobs=1, batch_size=FAST_BATCH, progress=False)
    before = _outputs(ws)
    shard = sorted((ws / "features" / "text" / "shards").glob("shard-*.npz"))[1]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])  # half of the unit: as if the write had been cut
    (ws / "features" / "text" / "manifest.json").unlink()  # and the run never finished
    report = extract_features(ws, "text", {}, n_jobs=1, batch_size=FAST_BATCH, progress=False)
    assert report.shards_reused == report.n_shards - 1  # exactly the broken shard was redone
    assert shard.read_bytes() == data
    assert _outputs(ws) == before
    assert np.load(ws / "features" / "text" / "text_h.npy").shape[0] > 0
