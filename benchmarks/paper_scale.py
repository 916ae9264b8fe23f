"""The paper's data size on one machine: content store, MF+AMAE training, evaluation, a request.

    python benchmarks/paper_scale.py --scale 1            # 163,329 users, 34,140 tracks, 17.8M listens, 45.3M posts
    python benchmarks/paper_scale.py --curve              # 1/64, 1/16, 1/4 (each in a fresh process)

A synthetic world with the paper's counts times ``--scale`` (users, tracks, interactions, posts):
a year of listening, lognormal user activity (so a few users hold many listens and posts), Zipf
track popularity, 89% of posts with an image. Post features are written directly as ``.npy``
arrays of stated dims (``--text-dim``, ``--visual-dim``: what a fitted PCA of the deep groups would
leave, docs/design.md section 10), ``--dtype`` float16 by default; no media are decoded. Then, each stage
timed (wall seconds) with the resident memory after it and the process's peak so far:

1. ``generate``: the world and its feature files;
2. ``split``: amae's temporal 80/20 split with validation tail and 99 sampled negatives per case;
3. ``content_store``: posts sorted into the store, global means, standardisers fitted on the fit records;
4. ``train_mf+amae``: stage 1 and stage 2 of MF+AMAE for one epoch over ``--train-fraction`` of the
   fit records (samples/s, extrapolated to a full epoch);
5. ``eval_sampled`` / ``eval_full``: MF (trained the same way) on every test case, 1 + 99 candidates
   and the whole catalogue;
6. ``recommend``: one request (3 recent posts) for the user with the most stored posts and for one
   with about 10, alternating; the ratio says whether a request costs O(its user's posts).

Writes ``benchmarks/results/paper_scale_<scale>.json`` (and ``paper_scale_curve.json``).
Peak RSS is ``ru_maxrss``; memory-mapped pages count in it, which is why bulk passes unmap them.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, peak_rss_mb, write_results  # noqa: E402

from amae.content.posts import ContextEncoder, PostContent, global_cutoffs  # noqa: E402
from amae.content.store import NpyWriter, post_keys, write_modality  # noqa: E402
from amae.models.amae import MFAMAE  # noqa: E402
from amae.models.base import TrainData  # noqa: E402
from amae.models.mf import MF  # noqa: E402
from amae.protocol.metrics import full_ranks, sampled_ranks  # noqa: E402
from amae.protocol.split import split_interactions  # noqa: E402
from amae.training import fit  # noqa: E402

PAPER = {"users": 163_329, "tracks": 34_140, "interactions": 17_826_932, "posts": 45_276_160}
SPAN_DAYS = 365
START = 1_451_606_400  # 2016-01-01
IMAGE_SHARE = 40_000_000 / 45_276_160
CHUNK = 1 << 20


def current_rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20


class Stages:
    """Wall time, resident memory after, and peak so far of each stage, printed as it ends."""

    def __init__(self) -> None:
        self.rows: dict[str, dict] = {}

    def run(self, name: str, fn, **extra):  # noqa: ANN001, ANN201
        t0 = time.perf_counter()
        out = fn()
        row = {"seconds": time.perf_counter() - t0, "rss_mb": current_rss_mb(), "peak_rss_mb": peak_rss_mb(), **extra}
        self.rows[name] = row
        print(f"{name:>16}: {row['seconds']:8.1f} s   rss {row['rss_mb']:8.0f} MB   peak {row['peak_rss_mb']:8.0f} MB",
              flush=True)
        return out


def generate(counts: dict[str, int], dims: dict[str, int], dtype: str, folder: Path, seed: int) -> dict:
    """Interactions as a frame; posts sorted by (user, time) with feature files in that order."""
    rng = np.random.default_rng(seed)
    n_users, n_items = counts["users"], counts["tracks"]
    activity = rng.lognormal(0.0, 1.2, n_users)
    listens = 5 + rng.multinomial(counts["interactions"] - 5 * n_users, activity / activity.sum())
    # nobody may play half the catalogue (each test case needs 99 unplayed tracks): matters at small scales only
    listens = np.minimum(listens, n_items // 2)
    user = np.repeat(np.arange(n_users, dtype=np.int64), listens)
    pop = 1.0 / (np.arange(n_items) + 10.0) ** 0.9
    item = rng.choice(n_items, size=len(user), p=pop / pop.sum()).astype(np.int64)
    when = START + rng.integers(0, SPAN_DAYS * 86_400, len(user), dtype=np.int64)
    inter = pd.DataFrame({"user_idx": user, "item_idx": item, "timestamp": when})
    del user, item, when
    share = activity ** 0.7
    posts = rng.multinomial(counts["posts"], share / share.sum())
    post_user = np.repeat(np.arange(n_users, dtype=np.int64), posts)
    post_time = START + rng.integers(0, SPAN_DAYS * 86_400, len(post_user), dtype=np.int64)
    order = np.argsort(post_keys(post_user, post_time), kind="stable")
    post_user, post_time = post_user[order], post_time[order]
    del order
    files = {}
    for mod, dim in dims.items():
        path = folder / f"{mod}_features.npy"
        writer = NpyWriter(path, dtype, (len(post_user), dim))
        for a in range(0, len(post_user), CHUNK):
            b = min(len(post_user), a + CHUNK)
            writer.write(a, rng.standard_normal((b - a, dim), dtype=np.float32))
        writer.close()
        files[mod] = path
    has_image = rng.random(len(post_user)) < IMAGE_SHARE
    return {"inter": inter, "post_user": post_user, "post_time": post_time, "files": files, "has_image": has_image,
            "posts_per_user": posts}


def build_store(world: dict, split, folder: Path, n_users: int, dtype: str) -> ContextEncoder:  # noqa: ANN001
    """The content store of both modalities, its global means and standardisers (fit records)."""
    posts = {}
    for mod, path in world["files"].items():
        rows = np.flatnonzero(world["has_image"]) if mod == "visual" else np.arange(len(world["post_user"]))
        feats = np.load(path, mmap_mode="r")
        posts[mod] = write_modality(folder, mod, world["post_user"][rows], world["post_time"][rows], [feats], rows,
                                    dtype=dtype)
        del feats
    inter = world["inter"]
    fit_rows = split.fit_rows
    encoder = ContextEncoder(posts, n_users, global_cutoffs(split.train_end, "train"))
    encoder.fit_standardizers(inter["user_idx"].to_numpy()[fit_rows], inter["timestamp"].to_numpy()[fit_rows])
    return encoder


def fit_fraction(model_cls, world: dict, split, encoder: ContextEncoder | None, fraction: float,  # noqa: ANN001
                 n_users: int, n_items: int, seed: int):  # noqa: ANN201
    """One epoch over a seeded ``fraction`` of the fit records (validation off)."""
    rng = np.random.default_rng(seed)
    fit_rows = split.fit_rows
    rows = np.sort(rng.choice(fit_rows, size=max(1, int(len(fit_rows) * fraction)), replace=False))
    inter = world["inter"]
    data = TrainData(n_users, n_items, inter["user_idx"].to_numpy()[rows], inter["item_idx"].to_numpy()[rows],
                     inter["timestamp"].to_numpy()[rows], rows=rows, seed=seed,
                     content=None if encoder is None else PostContent(encoder, {}))
    extra = {"stage1_epochs": 1} if encoder is not None else {}
    model = model_cls(epochs=1, min_epochs=1, progress=False, **extra)
    fit(model, data)
    return model, len(rows)


def recommend_costs(model: MFAMAE, world: dict, n_items: int, repeats: int = 30) -> dict:
    """Median seconds of one request for the heaviest poster and for a user with about 10 posts."""
    per_user = world["posts_per_user"]
    heavy = int(np.argmax(per_user))
    light = int(np.argmin(np.abs(per_user - 10)))
    rng = np.random.default_rng(0)
    enc = model.encoder
    assert enc is not None
    t = START + SPAN_DAYS * 86_400
    request = {m: (np.array([t - 3600, t - 1800, t - 60]), rng.standard_normal((3, s.dim)).astype(np.float32))
               for m, s in enc.posts.items()}
    items = np.arange(n_items, dtype=np.int64)[None, :]
    seconds: dict[int, list[float]] = {heavy: [], light: []}
    for _ in range(repeats):
        for user in (heavy, light):
            t0 = time.perf_counter()
            times, feats = {m: r[0] for m, r in request.items()}, {m: r[1] for m, r in request.items()}
            mine = enc.for_user(user, times, feats, at=t)
            scoring = copy.copy(model)
            scoring.encoder = mine
            scores = scoring.score(np.asarray([user]), items, np.asarray([t]))[0]
            top = np.argsort(-scores)[:10]
            scoring.explain(np.asarray([user]), top[None, :], np.asarray([t]))
            seconds[user].append(time.perf_counter() - t0)
    med = {u: float(np.median(v)) for u, v in seconds.items()}
    return {"heavy_user_posts": int(per_user[heavy]), "light_user_posts": int(per_user[light]),
            "heavy_seconds": med[heavy], "light_seconds": med[light], "heavy / light": med[heavy] / med[light]}


def run_scale(args: argparse.Namespace) -> dict:
    scale = float(Fraction(args.scale))
    counts = {k: max(10, int(round(v * scale))) for k, v in PAPER.items()}
    dims = {"text": args.text_dim, "visual": args.visual_dim}
    folder = Path(args.workdir) / f"scale_{args.scale.replace('/', '_')}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"scale {args.scale}: {counts}, dims {dims} {args.dtype}", flush=True)
    st = Stages()
    try:
        world = st.run("generate", lambda: generate(counts, dims, args.dtype, folder, args.seed))
        split = st.run("split", lambda: split_interactions(world["inter"], counts["tracks"], seed=args.seed))
        encoder = st.run("content_store", lambda: build_store(world, split, folder, counts["users"], args.dtype),
                         fit_records=len(split.fit_rows))
        amae, n_fit = st.run("train_mf+amae", lambda: fit_fraction(MFAMAE, world, split, encoder, args.train_fraction,
                                                                   counts["users"], counts["tracks"], args.seed))
        rate = amae.history[-1]["samples_per_s"]
        full_epoch = 4 * len(split.fit_rows) / rate
        st.rows["train_mf+amae"].update(records=n_fit, samples_per_s=rate, full_epoch_seconds_extrapolated=full_epoch,
                                        stage1_seconds=sum(h["seconds"] for h in amae.stage1_history))
        mf, _ = st.run("train_mf", lambda: fit_fraction(MF, world, split, None, args.train_fraction, counts["users"],
                                                        counts["tracks"], args.seed))
        st.rows["train_mf"].update(samples_per_s=mf.history[-1]["samples_per_s"])
        test = split.test
        st.run("eval_sampled", lambda: sampled_ranks(mf.score, test), cases=len(test))
        inter = world["inter"]
        period = np.concatenate([split.fit_rows, split.valid_rows])
        pairs = (inter["user_idx"].to_numpy()[period], inter["item_idx"].to_numpy()[period])
        st.run("eval_full", lambda: full_ranks(mf.score, test, counts["tracks"], pairs), cases=len(test))
        costs = st.run("recommend", lambda: recommend_costs(amae, world, counts["tracks"]))
        st.rows["recommend"].update(costs)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    counts["interactions"] = len(world["inter"])  # after the per-user cap (see generate)
    payload = {"scale": args.scale, "counts": counts, "dims": dims, "dtype": args.dtype,
               "train_fraction": args.train_fraction, "stages": st.rows, "peak_rss_mb": peak_rss_mb()}
    write_results(f"paper_scale_{args.scale.replace('/', '_')}", payload)
    return payload


def run_curve(args: argparse.Namespace) -> None:
    """Each scale in a fresh process (so each peak RSS is its own), then the growth per stage."""
    results = []
    for scale in args.curve_scales.split(","):
        cmd = [sys.executable, __file__, "--scale", scale, "--workdir", args.workdir, "--dtype", args.dtype,
               "--text-dim", str(args.text_dim), "--visual-dim", str(args.visual_dim),
               "--train-fraction", str(args.train_fraction)]
        subprocess.run(cmd, check=True)
        path = ROOT / "benchmarks" / "results" / f"paper_scale_{scale.replace('/', '_')}.json"
        results.append(json.loads(path.read_text()))
    print("\nseconds per stage (growth factor vs the previous scale; x4 in the counts is linear):")
    for name in results[0]["stages"]:
        secs = [r["stages"][name]["seconds"] for r in results]
        growth = [f"x{b / a:.1f}" if a > 0 else "-" for a, b in zip(secs, secs[1:], strict=False)]
        print(f"{name:>16}: " + "  ".join(f"{s:8.1f}" for s in secs) + "   " + " ".join(growth))
    write_results("paper_scale_curve", {"scales": [r["scale"] for r in results], "runs": results})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="1/64", help="fraction of the paper's counts, e.g. 1, 1/4, 1/64")
    ap.add_argument("--curve", action="store_true", help="run --curve-scales, each in a fresh process")
    ap.add_argument("--curve-scales", default="1/64,1/16,1/4")
    ap.add_argument("--text-dim", type=int, default=64)
    ap.add_argument("--visual-dim", type=int, default=64)
    ap.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    ap.add_argument("--train-fraction", type=float, default=0.02, help="share of the fit records trained on")
    ap.add_argument("--workdir", default="/tmp/amae_paper_scale")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    if args.curve:
        run_curve(args)
    else:
        run_scale(args)


if __name__ == "__main__":
    main()
