"""Benchmark: global + contextual aggregation at scale (docs/design.md sections 5 and 10).

Generates a synthetic world (posts in random order, features as float16/float32 memmaps in a temp
folder, one file per modality, as the real feature cache stores them) in a child process, so the
peak RSS reported here is that of the aggregation alone, then aggregates each modality and prints
time, throughput and peak RSS. Results go to ``benchmarks/results/aggregation.json``.

    python benchmarks/aggregation.py                       # 1M interactions, 2M posts, 2 x 256 dims
    python benchmarks/aggregation.py --interactions 10000 --posts 20000 --dim 16   # quick run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from amae.features.aggregate import aggregate, training_cutoffs

DAY = 24 * 3600
T0 = 1_600_000_000


def generate(
    folder: Path,
    n_posts: int,
    n_inter: int,
    n_users: int,
    dim: int,
    modalities: int,
    days: int,
    dtype: str,
    seed: int,
) -> None:
    """Write the world as .npy files (ids/times) and raw memmaps (features) into ``folder``."""
    rng = np.random.default_rng(seed)
    span = days * DAY
    np.save(folder / "post_user.npy", rng.integers(0, n_users, n_posts))
    np.save(folder / "post_time.npy", T0 + rng.integers(0, span, n_posts))
    np.save(folder / "inter_user.npy", rng.integers(0, n_users, n_inter))
    np.save(folder / "inter_time.npy", T0 + rng.integers(0, span, n_inter))
    chunk = 1 << 16
    for m in range(modalities):
        mm = np.memmap(folder / f"feat{m}.bin", dtype=dtype, mode="w+", shape=(n_posts, dim))
        for a in range(0, n_posts, chunk):
            b = min(n_posts, a + chunk)
            mm[a:b] = rng.standard_normal((b - a, dim), dtype=np.float32)
        mm.flush()
        del mm


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--interactions", type=int, default=1_000_000)
    p.add_argument("--posts", type=int, default=2_000_000)
    p.add_argument("--users", type=int, default=10_000, help="default gives ~200 posts per user")
    p.add_argument("--dim", type=int, default=256, help="feature dimension per modality")
    p.add_argument("--modalities", type=int, default=2)
    p.add_argument("--days", type=int, default=180)
    p.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    p.add_argument("--window", type=int, default=DAY)
    p.add_argument("--block-mb", type=int, default=256, help="prefix-sum block budget (MiB)")
    p.add_argument("--workers", type=int, default=1, help="threads over column blocks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "results" / "aggregation.json"
    )
    p.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.generate_into is not None:  # child process: write the world and exit
        generate(
            args.generate_into,
            args.posts,
            args.interactions,
            args.users,
            args.dim,
            args.modalities,
            args.days,
            args.dtype,
            args.seed,
        )
        return

    with tempfile.TemporaryDirectory(prefix="amae-agg-bench-") as tmp:
        folder = Path(tmp)
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--generate-into", str(folder)], check=True)
        gen_s = time.perf_counter() - t
        post_user = np.load(folder / "post_user.npy")
        post_time = np.load(folder / "post_time.npy")
        inter_user = np.load(folder / "inter_user.npy")
        inter_time = np.load(folder / "inter_time.npy")
        # Leakage-safe global window: training period = first 80% of the time span.
        is_train = inter_time < T0 + int(0.8 * args.days * DAY)
        cutoff = training_cutoffs(inter_user, inter_time, is_train, args.users)
        rss_before = peak_rss_mb()

        per_modality = []
        kept = []
        t_all = time.perf_counter()
        for m in range(args.modalities):
            feats = np.memmap(
                folder / f"feat{m}.bin", dtype=args.dtype, mode="r", shape=(args.posts, args.dim)
            )
            t, cpu = time.perf_counter(), time.process_time()
            agg = aggregate(
                post_user,
                post_time,
                feats,
                inter_user,
                inter_time,
                args.users,
                global_until=cutoff,
                window=args.window,
                max_block_bytes=args.block_mb * 2**20,
                workers=args.workers,
            )
            secs = time.perf_counter() - t
            cpu = time.process_time() - cpu
            per_modality.append(
                {
                    "modality": m,
                    "seconds": round(secs, 3),
                    "cpu_seconds": round(cpu, 3),
                    "interactions_per_s": round(args.interactions / secs),
                    "context_empty_fraction": round(float(agg.context_empty.mean()), 4),
                    "mean_context_posts": round(float(agg.n_context_posts.mean()), 3),
                    "users_with_posts": int(agg.user_has_posts.sum()),
                    "peak_rss_mb_so_far": round(peak_rss_mb(), 1),
                }
            )
            print(
                f"modality {m}: {secs:.2f} s ({cpu:.2f} s CPU), "
                f"{args.interactions / secs:,.0f} interactions/s, "
                f"empty windows {agg.context_empty.mean():.1%}, peak RSS {peak_rss_mb():,.0f} MiB"
            )
            kept.append(agg)  # keep every modality's output, as a caller training on them would
            del feats
        total = time.perf_counter() - t_all
        total_cpu = sum(r["cpu_seconds"] for r in per_modality)

    result = {
        "interactions": args.interactions,
        "posts": args.posts,
        "users": args.users,
        "dim_per_modality": args.dim,
        "modalities": args.modalities,
        "dtype": args.dtype,
        "window_s": args.window,
        "block_mb": args.block_mb,
        "workers": args.workers,
        "generate_seconds": round(gen_s, 2),
        "aggregate_seconds_total": round(total, 3),
        "aggregate_cpu_seconds_total": round(total_cpu, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "interactions_per_s_per_modality": round(args.interactions * args.modalities / total),
        "peak_rss_mb_before_aggregation": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "output_mb": round(sum(a.contextual.nbytes + a.global_.nbytes for a in kept) / 2**20, 1),
        "per_modality": per_modality,
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "processor": platform.processor() or platform.machine(),
        },
    }
    print(
        f"total {total:.2f} s for {args.modalities} x {args.interactions:,} interactions "
        f"({result['interactions_per_s_per_modality']:,} interactions/s per modality); "
        f"peak RSS {result['peak_rss_mb']:,.0f} MiB (outputs {result['output_mb']:,.0f} MiB)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
