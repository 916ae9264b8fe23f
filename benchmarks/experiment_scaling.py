"""Wall time of one fixed experiment on one process, on a process pool and on Dask, with the ratios.

The experiment is the demo world's Table II for MF and MF+AMAE with both controls (noise,
shuffle) and 2 seeds: 8 cells. Each engine runs it on a fresh copy of one prepared workspace
(ingested, split, features extracted), so every run trains all 8 cells; the numbers of every
run are compared with the one-process run and must be identical. On a bigger machine or a
cluster, ``-j`` and ``--dask-address`` show its curve.

    python benchmarks/experiment_scaling.py --out /tmp/scaling -j 2
    python benchmarks/experiment_scaling.py --out /tmp/scaling -j 8 --dask-address tcp://10.0.0.5:8786

Prints the table and writes ``benchmarks/results/experiment_scaling.json``.
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from _common import peak_rss_mb, write_results

from amae.compute.tasks import available_cores
from amae.data.synthetic import WorldConfig, generate_world
from amae.data.workspace import ingest
from amae.experiments.parallel import Workers
from amae.experiments.runner import run_experiment
from amae.features.pipeline import extract_features
from amae.protocol.split import split_workspace


def prepare(root: Path, users: int) -> Path:
    """The demo world, ingested, split and with its features: the part every engine shares."""
    ws = root / "prepared"
    if not (ws / "features" / "visual" / "manifest.json").exists():
        generate_world(root / "world", WorldConfig(n_users=users))
        ds = ingest(root / "world", ws)
        split_workspace(ws, ds, seed=0)
        for modality in ("text", "visual"):
            extract_features(ws, modality, {}, n_jobs=available_cores(), progress=False)
    return ws


def numbers(results: dict) -> dict:
    rows = [r for t in results["tables"].values() for r in t["rows"]]
    out = {r["label"]: r.get("per_seed") for r in rows}
    out.update({f"{r['label']}~{c}": ctl.get("per_seed") for r in rows for c, ctl in (r.get("controls") or {}).items()})
    return out


def run_once(prepared: Path, root: Path, name: str, workers: Workers, seeds: int) -> dict:
    ws = root / f"ws-{name}"
    shutil.rmtree(ws, ignore_errors=True)
    shutil.copytree(prepared, ws)
    t0 = time.perf_counter()
    res = run_experiment(ws, root / f"report-{name}", "II", list(range(seeds)), "cpu", methods=["mf", "mf+amae"],
                         workers=workers)
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "cells_wall_s": res["timings"]["cells"],
            "worker_seconds": res["timings"]["cells, worker-seconds"], "trained_cells": res["trained_cells"],
            "numbers": numbers(res)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("-j", "--jobs", type=int, default=available_cores())
    ap.add_argument("--dask-address", default=None, help="an existing scheduler (default: a LocalCluster)")
    ap.add_argument("--users", type=int, default=150)
    ap.add_argument("--seeds", type=int, default=2)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    prepared = prepare(args.out, args.users)
    engines = {"j1": Workers(1), f"j{args.jobs}": Workers(args.jobs, "local"),
               f"dask{args.jobs}": Workers(args.jobs, "dask", args.dask_address)}
    runs = {}
    for name, w in engines.items():
        runs[name] = run_once(prepared, args.out, name, w, args.seeds)
        print(f"{name}: {runs[name]['wall_s']:.1f} s wall", flush=True)
    base = runs["j1"]
    print(f"{'engine':10} {'wall s':>8} {'cells s':>8} {'worker-s':>9} {'cells':>6} {'ratio':>6}  identical")
    for name, r in runs.items():
        r["ratio_to_j1"] = r["wall_s"] / base["wall_s"]
        r["cells_ratio_to_j1"] = r["cells_wall_s"] / base["cells_wall_s"]
        r["identical_to_j1"] = r["numbers"] == base["numbers"]
        print(f"{name:10} {r['wall_s']:8.1f} {r['cells_wall_s']:8.1f} {r['worker_seconds']:9.1f} "
              f"{r['trained_cells']:6d} {r['ratio_to_j1']:6.2f}  {r['identical_to_j1']}")
    write_results("experiment_scaling", {
        "cores": available_cores(), "jobs": args.jobs, "users": args.users, "seeds": args.seeds,
        "peak_rss_mb_parent": peak_rss_mb(),
        "runs": {k: {kk: vv for kk, vv in v.items() if kk != "numbers"} for k, v in runs.items()}})


if __name__ == "__main__":
    main()
