"""Benchmark: global + contextual means at scale, by the content store's code (docs/design.md sections 5 and 10).

Generates a synthetic world (posts in random order, features as float16/float32 memmaps in a temp
folder, one file per modality, as the real feature cache stores them) in a child process, so the
peak RSS reported here is that of the aggregation alone. Per modality it then sorts the posts into
a content store on disk with the store's own chunked writer (``write_modality``), computes the
global means and every interaction's contextual mean with :class:`ContextEncoder` (what training,
evaluation, serving and the case study read), and prints time, throughput and peak RSS beside a floor:
one plain pass that reads every feature row once (``feats.sum``), so the ratio says
what the means cost beyond reading the data. Results go to ``benchmarks/results/aggregation.json``.

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

from amae.content.posts import ContextEncoder
from amae.content.store import open_modality, write_modality

DAY = 24 * 3600
T0 = 1_600_000_000
#: rows per chunk of the floor's plain read (so it holds no float32 copy of the whole table)
READ_ROWS = 1 << 16


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
        # Leakage-safe global window: the training period is the first 80% of the time span.
        cutoff = np.full(args.users, T0 + int(0.8 * args.days * DAY), dtype=np.int64)
        rss_before = peak_rss_mb()

        per_modality = []
        kept = []
        t_all = time.perf_counter()
        for m in range(args.modalities):
            feats = np.memmap(
                folder / f"feat{m}.bin", dtype=args.dtype, mode="r", shape=(args.posts, args.dim)
            )
            t = time.perf_counter()
            floor_sum = sum(float(feats[a : a + READ_ROWS].sum(dtype=np.float32))  # the floor: read each row once
                            for a in range(0, args.posts, READ_ROWS))
            floor_s = time.perf_counter() - t
            t, cpu = time.perf_counter(), time.process_time()
            store_dir = folder / "store"
            store_dir.mkdir(exist_ok=True)
            write_modality(store_dir, f"m{m}", post_user, post_time, [feats], np.arange(args.posts),
                           dtype=args.dtype)
            posts = open_modality(store_dir, f"m{m}")  # memory-mapped, as the workspace's store is read
            encoder = ContextEncoder({"m": posts}, args.users, cutoff, window=args.window)
            contextual, empty = encoder.raw_contextual("m", inter_user, inter_time)
            agg = {"contextual": contextual, "empty": empty, "global": encoder.raw_global["m"],
                   "has_posts": np.bincount(post_user[post_time < cutoff[post_user]], minlength=args.users) > 0,
                   "floor_sum": floor_sum}
            secs = time.perf_counter() - t
            cpu = time.process_time() - cpu
            per_modality.append(
                {
                    "modality": m,
                    "seconds": round(secs, 3),
                    "cpu_seconds": round(cpu, 3),
                    "interactions_per_s": round(args.interactions / secs),
                    "floor_read_seconds": round(floor_s, 3),
                    "ratio_to_floor": round(secs / floor_s, 2),
                    "context_empty_fraction": round(float(agg["empty"].mean()), 4),
                    "users_with_posts": int(agg["has_posts"].sum()),
                    "peak_rss_mb_so_far": round(peak_rss_mb(), 1),
                }
            )
            print(
                f"modality {m}: {secs:.2f} s ({cpu:.2f} s CPU), "
                f"{args.interactions / secs:,.0f} interactions/s, "
                f"{secs / floor_s:.1f}x one plain read of the features ({floor_s:.2f} s), "
                f"empty windows {agg['empty'].mean():.1%}, peak RSS {peak_rss_mb():,.0f} MiB"
            )
            kept.append(agg)  # keep every modality's output, as a caller training on them would
            del feats, posts, encoder
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
        "generate_seconds": round(gen_s, 2),
        "aggregate_seconds_total": round(total, 3),
        "aggregate_cpu_seconds_total": round(total_cpu, 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "interactions_per_s_per_modality": round(args.interactions * args.modalities / total),
        "peak_rss_mb_before_aggregation": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "output_mb": round(sum(a["contextual"].nbytes + a["global"].nbytes for a in kept) / 2**20, 1),
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
