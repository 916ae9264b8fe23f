"""Training throughput of MF+AMAE (and DMF+AMAE) against its backbone on the same workspace.

Reports stage-2 samples/s (positives + sampled negatives per second, from the trainer's history),
seconds per epoch for stage 1 and stage 2, and content preparation time, so the cost of the
content path is visible next to plain MF. The workspace needs ``amae ingest``, ``amae split`` and
``amae features`` (e.g. ``amae demo --out DIR`` followed by ``amae features DIR/workspace``).

    python benchmarks/amae_training.py WORKSPACE [--epochs 3] [--threads 1] [--modalities text,visual]
        [--device cpu|cuda|auto] [--tag NAME]

Each model is also evaluated on the split's test cases (sampled HR@10/NDCG@10), so a run with
``--device cuda`` can be set beside a CPU run of the same seed. Writes
``benchmarks/results/amae_training[_TAG].json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, write_results  # noqa: E402

from amae.data.workspace import load_workspace  # noqa: E402
from amae.experiments.runs import load_split, train_data  # noqa: E402
from amae.models import REGISTRY  # noqa: E402
from amae.protocol.metrics import evaluate  # noqa: E402
from amae.training import fit  # noqa: E402


def run(workspace: Path, model_name: str, params: dict, seed: int, device: str = "cpu") -> dict:
    ds, sp = load_workspace(workspace), load_split(workspace)
    cls = REGISTRY[model_name]
    data = train_data(ds, sp, seed, device)
    prep = 0.0
    if cls.needs_content:
        t0 = time.perf_counter()
        data.content = cls.prepare_content(workspace, ds, sp, params)
        prep = time.perf_counter() - t0
    model = cls(**params)
    t0 = time.perf_counter()
    fit(model, data)
    fit_seconds = time.perf_counter() - t0
    metrics = evaluate(model.score, sp.test)["sampled"]
    hist = model.history
    stage1 = getattr(model, "stage1_history", [])
    return {"model": model_name, "device": str(model.device), "params": params, "fit_seconds": fit_seconds,
            "prepare_content_seconds": prep, "test_HR@10": metrics["HR@10"], "test_NDCG@10": metrics["NDCG@10"],
            "stage2_epochs": len(hist),
            "stage2_seconds_per_epoch": float(np.mean([h["seconds"] for h in hist])),
            "stage2_samples_per_s": float(np.mean([h["samples_per_s"] for h in hist])),
            "stage1_epochs": len(stage1),
            "stage1_seconds_per_epoch": float(np.mean([h["seconds"] for h in stage1])) if stage1 else 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--stage1-epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a busy machine)")
    ap.add_argument("--modalities", default="text,visual")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    common = {"epochs": args.epochs, "patience": args.epochs, "progress": False}
    amae = {**common, "stage1_epochs": args.stage1_epochs, "modalities": args.modalities.split(",")}
    rows = [run(args.workspace, name, amae if name.endswith("+amae") else common, args.seed, args.device)
            for name in ("mf", "mf+amae", "dmf", "dmf+amae")]
    for r in rows:
        print(f"{r['model']:>9} on {r['device']}: test HR@10 {r['test_HR@10']:.4f} NDCG@10 {r['test_NDCG@10']:.4f}, "
              f"{r['stage2_samples_per_s']:>9.0f} samples/s, "
              f"{r['stage2_seconds_per_epoch']:.2f} s/epoch (stage 1 {r['stage1_seconds_per_epoch']:.2f} s/epoch, "
              f"content prep {r['prepare_content_seconds']:.1f} s, fit {r['fit_seconds']:.1f} s)")
    by = {r["model"]: r for r in rows}
    payload = {"workspace": str(args.workspace), "threads": args.threads, "device": args.device, "runs": rows,
               "slowdown_mf": by["mf"]["stage2_samples_per_s"] / by["mf+amae"]["stage2_samples_per_s"],
               "slowdown_dmf": by["dmf"]["stage2_samples_per_s"] / by["dmf+amae"]["stage2_samples_per_s"],
               "peak_rss_mb": peak_rss_mb()}
    print(f"MF+AMAE is {payload['slowdown_mf']:.1f}x slower per sample than MF; "
          f"DMF+AMAE {payload['slowdown_dmf']:.1f}x slower than DMF")
    write_results("amae_training" + (f"_{args.tag}" if args.tag else ""), payload)


if __name__ == "__main__":
    main()
