"""Numbers of a table row: mean and std over seeds, and differences to other cells with intervals.

The per-case HR@10/NDCG@10 are recomputed from the ranks each cell saved (``sampled_ranks.npy``,
``full_ranks.npy``), so a difference pairs exactly the same test cases: a method's seed ``k`` is
paired with the reference's seed ``k`` (MF, or the row's own noise control). The interval and the
minimum detectable effect are :func:`amae.protocol.significance.paired_stats`: their standard
error holds the seed-to-seed variance of training and the case-to-case variance of the test set.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from amae.protocol.metrics import hit_ndcg
from amae.protocol.significance import mean_std, paired_stats

#: protocol key in metrics.json -> how reports name it
PROTOCOLS = {
    "sampled": "sampled (1 positive + 99 negatives)",
    "sampled_new_pairs": "sampled, new pairs only",
    "full": "full ranking (all tracks not in the user's training history)",
    "full_new_pairs": "full ranking, new pairs only",
}
METRICS = ("HR@10", "NDCG@10", "MRR")
#: rank file of each protocol, read to pair the same test cases
RANK_FILES = {"sampled": "sampled_ranks.npy", "full": "full_ranks.npy"}


def seed_summary(cells: list[dict]) -> dict[str, dict[str, list[float]]]:
    """protocol -> metric -> [mean, std] over the cells (one per seed)."""
    out: dict[str, dict[str, list[float]]] = {}
    for proto in PROTOCOLS:
        per_metric = {}
        for metric in METRICS:
            vals = [c[proto][metric] for c in cells if proto in c and metric in c[proto]]
            vals = [v for v in vals if v is not None and v == v]  # no case in the view: NaN, null in JSON
            if vals:
                per_metric[metric] = list(mean_std(vals))
        if per_metric:
            per_metric["n_cases"] = [float(cells[0][proto].get("n", 0)), 0.0] if proto in cells[0] else [0.0, 0.0]
            out[proto] = per_metric
    return out


def per_case(ranks: np.ndarray) -> dict[str, np.ndarray]:
    hit, ndcg = hit_ndcg(np.asarray(ranks))
    return {"HR@10": hit, "NDCG@10": ndcg}


def differences_vs_reference(method_dirs: dict[int, Path], reference_dirs: dict[int, Path],
                             new_pair: np.ndarray | None = None) -> dict[str, Any]:
    """protocol -> metric -> [mean difference, low, high] (95%) of method minus reference.

    ``method_dirs``/``reference_dirs`` map a seed to its cell folder; only seeds present in both
    are paired (same seed, same case). Protocols whose rank files are missing are left out.
    ``new_pair`` (one bool per test case) adds the new-pairs-only views. Each view also carries
    ``n_pairs`` (cases per seed) and ``n_seeds``; ``stats`` holds, per view and metric, everything
    :func:`paired_stats` measured (standard error, degrees of freedom, variance parts, MDE).
    """
    common = sorted(set(method_dirs) & set(reference_dirs))
    out: dict[str, Any] = {}
    every: dict[str, dict[str, dict[str, float]]] = {}
    for proto, fname in RANK_FILES.items():
        pairs = [(method_dirs[s] / fname, reference_dirs[s] / fname) for s in common]
        pairs = [(fa, fb) for fa, fb in pairs if fa.exists() and fb.exists()]
        if not pairs:
            continue
        ra = np.stack([np.load(fa) for fa, _ in pairs])
        rb = np.stack([np.load(fb) for _, fb in pairs])
        if ra.shape != rb.shape:
            raise ValueError(f"{pairs[0][0]} and {pairs[0][1]} rank different test cases ({ra.shape} vs {rb.shape})")
        views = {proto: np.ones(ra.shape[1], dtype=bool)}
        if new_pair is not None and len(new_pair) == ra.shape[1]:
            views[f"{proto}_new_pairs"] = np.asarray(new_pair, dtype=bool)
        for view, sel in views.items():
            if not sel.any():
                continue
            ca, cb = per_case(ra[:, sel]), per_case(rb[:, sel])
            every[view] = {m: paired_stats(ca[m], cb[m]) for m in ca}
            out[view] = {m: [st["mean"], st["low"], st["high"]] for m, st in every[view].items()}
            out[view]["n_pairs"] = [float(sel.sum()), 0.0, 0.0]
            out[view]["n_seeds"] = [float(len(pairs)), 0.0, 0.0]
    if every:
        out["stats"] = every
    return out
