"""ItemPop, MF and DMF on the DeepCF music files with their given negatives, beside the published
numbers. Early stopping uses a validation record held out of each user's training data, never the
test file. Also reports training/evaluation throughput and peak RSS.

    python benchmarks/reference_backbones.py [--datasets lastfm AMusic] [--seeds 0 1 2] [--jobs 2] [--refit]

Each (dataset, model, seed) is one run; ``--jobs N`` runs N of them at once in spawned processes
(one torch thread each), so the three seeds of a model use the cores of the machine.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np
from _common import peak_rss_mb, shared_data, write_results

from amae.data.adapters.ncf import load_ncf
from amae.models import REGISTRY, Recommender, TrainData
from amae.protocol.given import given_split
from amae.protocol.metrics import evaluate
from amae.training import fit

# Larger latent sizes than the paper's d = 16: these are the backbone reference figures on public
# data, where DeepCF's own DMF used 64-d towers too.
DEFAULTS = {"mf": {"dim": 64, "lr": 0.005, "l2": 1e-3, "epochs": 60, "patience": 5, "progress": False},
            "dmf": {"dim": 64, "hidden": 256, "lr": 5e-4, "l2": 1e-6, "epochs": 60, "patience": 6,
                    "progress": False},
            "itempop": {}}
PER_DATASET: dict[tuple[str, str], dict] = {}


def published(dataset: str) -> dict[str, dict[str, float]]:
    path = shared_data() / "deepcf" / "deepcf_table2_published.csv"
    rows = [r for r in csv.reader(line for line in path.read_text().splitlines() if not line.startswith("#"))]
    header, body = rows[0], rows[1:]
    out: dict[str, dict[str, float]] = {}
    for r in body:
        if r[0] == dataset:
            for name, value in zip(header[2:], r[2:], strict=True):
                out.setdefault(name, {})[r[1]] = float(value)
    return out


def refit(name: str, params: dict, history: list[dict], full: TrainData) -> Recommender:
    """Train afresh on every training record (validation included) for the epoch count that early
    stopping chose: the validation record of each user then also feeds the DMF towers at test time."""
    scores = [h.get("valid_NDCG@10", -np.inf) for h in history]
    best_epoch = int(np.argmax(scores)) + 1
    return fit(REGISTRY[name](**{**params, "epochs": best_epoch}), full)


@lru_cache(maxsize=2)
def load(ds: str) -> tuple:
    """The dataset, its given split, its fit-rows TrainData (with validation) and all-training-rows TrainData."""
    data = load_ncf(shared_data() / "deepcf" / ds)
    inter, split = data.interactions, given_split(data)
    u, i, t = inter["user_idx"].to_numpy(), inter["item_idx"].to_numpy(), inter["timestamp"].to_numpy()
    rows = split.fit_rows
    train = TrainData(data.n_users, data.n_items, u[rows], i[rows], t[rows], valid=split.valid, rows=rows)
    every = np.r_[split.fit_rows, split.valid_rows]
    full = TrainData(data.n_users, data.n_items, u[every], i[every], t[every], rows=every)
    return data, split, train, full


def run_one(ds: str, name: str, params: dict, seed: int, refit_after: bool, device: str) -> dict:
    """Fit one model with one seed and evaluate it on the given test cases."""
    data, split, train, full = load(ds)
    test = split.test
    train.seed, train.device = seed, device
    full.seed, full.device = seed, device
    t0 = time.perf_counter()
    model = fit(REGISTRY[name](**params), train)
    valid_best = max((h.get("valid_NDCG@10", -1.0) for h in model.history), default=None)
    before = None
    if refit_after and model.history:
        before = evaluate(model.score, test)["sampled"]
        model = refit(name, params, model.history, full)
    fit_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    res = evaluate(model.score, test)["sampled"]
    eval_s = time.perf_counter() - t1
    # AMusic: 27% of test positives never occur in the training file, against 6% of the given
    # negatives, so "a new item" is itself a signal there; the warm view leaves those cases out.
    seen = np.bincount(full.items, minlength=data.n_items) > 0
    warm = evaluate(model.score, test.subset(seen[test.items]))["sampled"]
    hist = model.history
    sps = float(np.mean([h["samples_per_s"] for h in hist])) if hist else None
    print(f"{ds:7s} {name:8s} seed {seed}: HR@10 {res['HR@10']:.4f} NDCG@10 {res['NDCG@10']:.4f} "
          f"({len(hist)} epochs, {fit_s:.0f}s, train {sps or 0:.0f} samples/s, "
          f"eval {len(test) / eval_s:.0f} cases/s)", flush=True)
    return {"seed": seed, **res, "warm": warm, "valid_NDCG@10": valid_best, "before_refit": before,
            "fit_seconds": fit_s,
            "epochs": len(hist), "train_samples_per_s": sps, "eval_cases_per_s": len(test) / eval_s,
            "peak_rss_mb": peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--datasets", nargs="+", default=["lastfm", "AMusic"])
    ap.add_argument("--models", nargs="+", default=["itempop", "mf", "dmf"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--params", default="{}", help="JSON dict of model params per model name")
    ap.add_argument("--refit", action="store_true",
                    help="after early stopping, refit on all training records for the best epoch count")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    ap.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own process")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args()
    overrides = json.loads(args.params)
    params = {(ds, name): {**DEFAULTS.get(name, {}), **PER_DATASET.get((ds, name), {}), **overrides.get(name, {})}
              for ds in args.datasets for name in args.models}
    plan = [(ds, name, params[ds, name], seed, args.refit, args.device)
            for ds in args.datasets for name in args.models
            for seed in (args.seeds if name != "itempop" else args.seeds[:1])]
    started = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(run_one, *zip(*plan, strict=True)))
    else:
        runs = [run_one(*job) for job in plan]
    results: dict = {"datasets": {}, "jobs": args.jobs, "wall_seconds": time.perf_counter() - started}
    for ds in args.datasets:
        data, split, _, _ = load(ds)
        pub = published(ds)
        ds_out: dict = {"published": pub, "models": {}, "split": split.info, "refit": args.refit,
                        "device": args.device}
        for name in args.models:
            mine = [r for job, r in zip(plan, runs, strict=True) if job[:2] == (ds, name)]
            hr = [r["HR@10"] for r in mine]
            nd = [r["NDCG@10"] for r in mine]
            ds_out["models"][name] = {"params": params[ds, name], "runs": mine, "HR@10_mean": float(np.mean(hr)),
                                      "NDCG@10_mean": float(np.mean(nd)), "HR@10_std": float(np.std(hr)),
                                      "NDCG@10_std": float(np.std(nd)),
                                      "warm_HR@10_mean": float(np.mean([r["warm"]["HR@10"] for r in mine])),
                                      "warm_NDCG@10_mean": float(np.mean([r["warm"]["NDCG@10"] for r in mine])),
                                      "warm_cases": mine[0]["warm"]["n"]}
        results["datasets"][ds] = ds_out
        print(f"\n{ds}: ours (mean of seeds) vs published (DeepCF Table 2)")
        for name, m in ds_out["models"].items():
            ref = pub.get({"itempop": "ItemPop", "dmf": "DMF"}.get(name, ""), {})
            print(f"  {name:8s} HR@10 {m['HR@10_mean']:.4f}±{m['HR@10_std']:.4f} NDCG@10 {m['NDCG@10_mean']:.4f}"
                  + (f"   published HR {ref['HR']:.4f} NDCG {ref['NDCG']:.4f}" if ref else "")
                  + f"   | positive seen in training ({m['warm_cases']} cases): HR@10 {m['warm_HR@10_mean']:.4f} "
                  f"NDCG@10 {m['warm_NDCG@10_mean']:.4f}")
        print(f"  published DMF HR {pub['DMF']['HR']:.4f} NDCG {pub['DMF']['NDCG']:.4f}; "
              f"NeuMF HR {pub['NeuMF']['HR']:.4f} NDCG {pub['NeuMF']['NDCG']:.4f}")
    results["peak_rss_mb"] = max([peak_rss_mb()] + [r["peak_rss_mb"] for r in runs])
    print(f"peak RSS {results['peak_rss_mb']:.0f} MB (largest process); wall {results['wall_seconds']:.0f}s")
    write_results("reference_backbones" + (f"_{args.tag}" if args.tag else ""), results)


if __name__ == "__main__":
    main()
