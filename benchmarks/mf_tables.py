"""Where dense embedding tables stop beating sparse ones for MF: a step's cost against table size.

    python benchmarks/mf_tables.py [--dims 16,64] [--rows 2000,8000,...] [--steps 300] [--rounds 3]

amae's own ``MFModule`` and optimisers (``amae.training.trainer.make_optimisers``: fused Adam for a
dense table, ``LazyAdam`` for a sparse one) take ``--steps`` steps of batch 512 (BCE + the L2 of
the rows looked up) on random rows of a table of users + items of each size, sparse and dense
alternating ``--rounds`` times. A dense step updates every weight, so its cost grows with the
table; a sparse step touches only the batch's rows, so it does not. Prints samples/s of both and
their ratio per size and the smallest measured size at which sparse is faster (the cross-over
``sparse="auto"`` uses is ``amae.models.mf.DENSE_MAX_WEIGHTS``). Writes
``benchmarks/results/mf_tables.json``.
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

from amae.models.mf import DENSE_MAX_WEIGHTS, MFModule  # noqa: E402
from amae.training.trainer import descend, make_optimisers  # noqa: E402

BATCH = 512


def samples_per_s(n_rows: int, dim: int, sparse: bool, steps: int, seed: int) -> float:
    """Samples/s of ``steps`` MF steps on a table of ``n_rows`` (half users, half items)."""
    torch.manual_seed(seed)
    n_users = n_rows // 2
    module = MFModule(n_users, n_rows - n_users, dim, 0.01, sparse=sparse)
    module.train()
    optimisers = make_optimisers(module, 1e-3)
    gen = torch.Generator().manual_seed(seed)
    u = torch.randint(0, n_users, (steps, BATCH), generator=gen)
    i = torch.randint(0, n_rows - n_users, (steps, BATCH), generator=gen)
    y = (torch.rand(steps, BATCH, generator=gen) < 0.25).float()
    t0 = time.perf_counter()
    for s in range(steps):
        logits = module.logits(u[s], i[s])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[s]) + 1e-6 * module.penalty(u[s], i[s])
        descend(optimisers, loss)
    return steps * BATCH / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--dims", default="16,64")
    ap.add_argument("--rows", default="2000,8000,32000,128000,512000")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    results = []
    for dim in (int(x) for x in args.dims.split(",")):
        crossover = None
        for n_rows in (int(x) for x in args.rows.split(",")):
            rates: dict[str, list[float]] = {"sparse": [], "dense": []}
            for r in range(args.rounds):
                for kind in ("sparse", "dense"):
                    rates[kind].append(samples_per_s(n_rows, dim, kind == "sparse", args.steps, r))
            med = {k: float(np.median(v)) for k, v in rates.items()}
            ratio = med["dense"] / med["sparse"]
            if ratio < 1 and crossover is None:
                crossover = n_rows * dim
            results.append({"dim": dim, "rows": n_rows, "weights": n_rows * dim, "sparse": med["sparse"],
                            "dense": med["dense"], "dense / sparse": ratio, "rounds": rates})
            print(f"d={dim:>3} rows={n_rows:>9,} weights={n_rows * dim:>11,}: sparse {med['sparse']:>9,.0f} "
                  f"samples/s, dense {med['dense']:>9,.0f} ({ratio:.2f}x)", flush=True)
        print(f"d={dim}: sparse is faster from {crossover:,} weights" if crossover else
              f"d={dim}: dense was faster at every measured size")
    print(f"sparse='auto' switches to sparse tables past {DENSE_MAX_WEIGHTS:,} weights")
    write_results("mf_tables", {"batch_size": BATCH, "steps": args.steps, "results": results,
                                "dense_max_weights": DENSE_MAX_WEIGHTS, "peak_rss_mb": peak_rss_mb()})


if __name__ == "__main__":
    main()
