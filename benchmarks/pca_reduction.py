"""How much of the deep features a fixed PCA keeps, and what it saves: the evidence for ``pca_dim``.

    python benchmarks/pca_reduction.py WORKSPACE [--dims 16,32,64,128]

For each deep group of the workspace (``text_d``, ``visual_d``), a :class:`FixedPCA` is fitted on
the training-period posts (the split's ``train_end``) at each dimension and the share of variance
it keeps is printed, with the store size per post (float16 and float32) at the paper's 45M posts.
Writes ``benchmarks/results/pca_reduction.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402

from amae.content.store import FixedPCA  # noqa: E402
from amae.features.extract import available_groups, load_group  # noqa: E402
from amae.features.modalities import POST_MODALITIES  # noqa: E402
from amae.protocol.split import in_training_period  # noqa: E402
from amae.protocol.stored import load_split  # noqa: E402

PAPER_POSTS = 45_276_160


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--dims", default="16,32,64,128")
    args = ap.parse_args()
    dims = [int(d) for d in args.dims.split(",")]
    split = load_split(args.workspace)
    posts = pd.read_parquet(args.workspace / "data" / "posts.parquet", columns=["post_idx", "user_idx", "timestamp"])
    posts = posts.sort_values("post_idx")
    training = posts["post_idx"].to_numpy()[in_training_period(posts["user_idx"].to_numpy(),
                                                               posts["timestamp"].to_numpy(), split.train_end)]
    have = set(available_groups(args.workspace / "features"))
    out: dict = {"workspace": str(args.workspace), "training_posts": int(len(training)), "groups": {}}
    for mod in POST_MODALITIES.values():
        deep = mod.groups.get("deep")
        if deep not in have:
            continue
        x, _ = load_group(args.workspace / "features", deep)
        rows = training[np.isfinite(np.asarray(x[training], np.float32)).all(axis=1)]
        rows = rows[np.abs(np.asarray(x[rows], np.float32)).sum(axis=1) > 0]  # posts that carry the modality
        full = x.shape[1]
        print(f"{deep}: {full} dims, {len(rows):,} training posts with it")
        per = {}
        for k in [d for d in dims if d < full]:
            kept = FixedPCA.fit(x, rows, k).explained
            gb16 = PAPER_POSTS * k * 2 / 2**30
            per[k] = {"explained_variance": kept, "paper_scale_GiB_float16": gb16}
            print(f"  k={k:4d}: keeps {kept:6.1%} of the variance; at 45M posts {gb16:6.1f} GiB (float16), "
                  f"{2 * gb16:6.1f} GiB (float32) vs {PAPER_POSTS * full * 2 / 2**30:6.1f} GiB unreduced (float16)")
        out["groups"][deep] = {"dims": full, "posts": int(len(rows)), "by_k": per}
    write_results("pca_reduction", out)


if __name__ == "__main__":
    main()
