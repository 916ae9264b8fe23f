"""Cold start: users the model never saw, ranked from their posts alone, against ItemPop and their own history.

Writes a planted world (``amae.data.synthetic``, text posts only), holds a seeded share of users out
of fitting entirely (every fit and validation record of theirs dropped; their posts stay in the
workspace, as a new user's would arrive) and trains MF+AMAE on the rest. Each held-out user's test
listens (the split's chronological tail) are ranked against the whole catalogue from posts only
(:meth:`AMAEBase.score_content_only`: posts before the listen; global input ``neutral``, the
average trained listener, or ``posts``, the mean of the user's own posts before the listen), by
``score()`` as it stands for a user without fit records (init-scale ``p_u``, the stored
training-period global vector), by ItemPop (the same fit records), and by an MF+AMAE trained
*with* those users in (their training history excluded, as the protocol does). Full ranking,
NDCG@10 and HR@10, on all those listens and on the ones with a post in the 24 h before; mean ±
std over seeds (each seed draws its own held-out users and trains both models).

    python benchmarks/cold_start.py --out /tmp/cold_start --users 150 --days 40 --holdout 0.2 --seeds 3 -j 2

Writes ``benchmarks/results/cold_start.json``. The text model (Word2Vec, SIF) is fitted on every
user's training-period posts, the held-out users' included: vocabulary, never listening.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
from _common import peak_rss_mb, write_results

from amae.compute.tasks import available_cores
from amae.data.contract import Dataset
from amae.data.synthetic import WorldConfig, WorldTruth, generate_world
from amae.data.workspace import ingest, load_workspace
from amae.experiments.runs import fit_model, load_split
from amae.features.pipeline import extract_features
from amae.protocol.metrics import full_ranks, summarise
from amae.protocol.significance import mean_std
from amae.protocol.split import Split, split_workspace
from amae.protocol.stored import history_pairs

#: MF+AMAE on the text modality (the planted world's posts carry no image here: faster, same signal)
PARAMS = {"modalities": ["text"], "progress": False}
ROWS = ("itempop (cold)", "mf+amae score() as is (cold)", "mf+amae posts only, global=posts (cold)",
        "mf+amae posts only, global=neutral (cold)", "mf+amae with history",
        "truth: popularity + day's mood (no taste)")
VIEWS = (("all", "NDCG@10"), ("all", "HR@10"), ("windowed", "NDCG@10"), ("windowed", "HR@10"))
ScoreFn = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]


def build_workspace(out: Path, users: int, days: int, jobs: int) -> Path:
    """The planted world (text posts only), ingested, split (seed 0) and with text features."""
    world, ws = out / "world", out / "ws"
    if not (world / "_world.json").exists():
        generate_world(world, WorldConfig(n_users=users, n_days=days, image_share=0.0, n_videos=0))
    split_workspace(ws, ingest(world, ws), seed=0)
    extract_features(ws, "text", {}, n_jobs=jobs, progress=False)
    return ws


def without_users(split: Split, user_of: np.ndarray, held: np.ndarray) -> Split:
    """The split with every fit and validation record of the ``held`` users dropped (posts stay)."""
    return replace(split, fit_rows=split.fit_rows[~held[user_of[split.fit_rows]]],
                   valid_rows=split.valid_rows[~held[user_of[split.valid_rows]]],
                   valid=split.valid.subset(~held[split.valid.users]))


def mood_oracle(world: Path, dataset: Dataset) -> ScoreFn:
    """The most a cold user's posts can reveal here: the world's own logit without the taste term
    (popularity + the day's mood, read from ``_world_truth.json``), a ceiling for the posts-only rows."""
    truth = WorldTruth.load(world)
    assert truth is not None, f"{world} has no truth file"
    gen_user = np.asarray([int(u[1:]) for u in dataset.users.ids], dtype=np.int64)  # "u0007" -> 7
    gen_item = np.asarray([int(i[1:]) for i in dataset.items.ids], dtype=np.int64)

    def score(users: np.ndarray, items: np.ndarray, times: np.ndarray | None) -> np.ndarray:
        assert times is not None
        mood = truth.mood[gen_user[users], truth.day_of(times)]
        match = truth.item_mood[gen_item[items]] == mood[:, None]
        return truth.mood_strength * match + truth.item_pop[gen_item[items]]

    return score


def one_seed(ws: Path, seed: int, holdout: float, params: dict) -> tuple[dict[str, np.ndarray], np.ndarray, dict]:
    """Ranks of the held-out users' test listens under every row, the windowed mask, and timings."""
    dataset, split = load_workspace(ws), load_split(ws)
    rng = np.random.default_rng(seed)
    held = np.zeros(dataset.n_users, dtype=bool)
    held[rng.choice(dataset.n_users, max(1, round(holdout * dataset.n_users)), replace=False)] = True
    user_of = dataset.interactions["user_idx"].to_numpy(np.int64)
    cold_split = without_users(split, user_of, held)
    t0 = time.perf_counter()
    cold = fit_model(ws, dataset, cold_split, "mf+amae", seed, params)
    warm = fit_model(ws, dataset, split, "mf+amae", seed, params)
    fit_s = time.perf_counter() - t0
    cases = split.test.subset(held[split.test.users])
    items = dataset.interactions["item_idx"].to_numpy(np.int64)
    popularity = np.bincount(items[cold_split.fit_rows], minlength=dataset.n_items).astype(np.float64)
    nothing = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # a cold user's history is unknown

    def posts_only(global_from: str) -> ScoreFn:
        return lambda u, i, t: cold.score_content_only(u, i, t, global_from=global_from)[0]

    t1 = time.perf_counter()
    fns: list[ScoreFn] = [lambda u, i, t: popularity[i], cold.score, posts_only("posts"), posts_only("neutral"),
                          warm.score, mood_oracle(ws.parent / "world", dataset)]
    ranks = {row: full_ranks(fn, cases, dataset.n_items, history_pairs(dataset, split) if row == ROWS[4] else nothing)
             for row, fn in zip(ROWS, fns, strict=True)}
    lo, hi = next(iter(cold.encoder.windows(cases.users, cases.times).values()))
    info = {"held_out_users": int(held.sum()), "cases": len(cases), "fit_seconds": fit_s,
            "rank_seconds": time.perf_counter() - t1,
            "epochs": {"cold": len(cold.history), "with_history": len(warm.history)}}
    return ranks, hi > lo, info


def summarise_seeds(per_seed: list[tuple[dict[str, np.ndarray], np.ndarray, dict]]) -> dict[str, dict]:
    """row -> "view metric" -> [mean, std] over seeds."""
    table: dict[str, dict] = {}
    for row in ROWS:
        cells = [{"all": summarise(r[row]), "windowed": summarise(r[row][w])} for r, w, _ in per_seed]
        table[row] = {f"{v} {m}": list(mean_std([c[v][m] for c in cells])) for v, m in VIEWS}
    return table


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--users", type=int, default=150)
    ap.add_argument("--days", type=int, default=40)
    ap.add_argument("--holdout", type=float, default=0.2, help="share of users held out of fitting")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("-j", "--jobs", type=int, default=available_cores())
    args = ap.parse_args()
    t0 = time.perf_counter()
    ws = build_workspace(args.out, args.users, args.days, args.jobs)
    per_seed = [one_seed(ws, s, args.holdout, dict(PARAMS)) for s in range(args.seeds)]
    table = summarise_seeds(per_seed)
    infos = [info for _, _, info in per_seed]
    windowed = [int(w.sum()) for _, w, _ in per_seed]
    print(f"cold start: {args.users} users x {args.days} days, {args.holdout:.0%} held out of fitting, "
          f"{args.seeds} seed(s); {[i['cases'] for i in infos]} test listens of held-out users "
          f"({windowed} with a post in the 24 h before); full ranking, mean ± std over seeds")
    print(f"{'row':44}" + "".join(f"{v + ' ' + m:>22}" for v, m in VIEWS))
    for row, cells in table.items():
        print(f"{row:44}" + "".join(f"{cells[f'{v} {m}'][0]:>14.4f} ± {cells[f'{v} {m}'][1]:.4f}" for v, m in VIEWS))
    seconds = time.perf_counter() - t0
    print(f"{seconds:.0f} s, peak RSS {peak_rss_mb():.0f} MB")
    write_results("cold_start", {"users": args.users, "days": args.days, "holdout": args.holdout,
                                 "seeds": args.seeds, "params": PARAMS, "runs": infos, "windowed_cases": windowed,
                                 "rows": table, "seconds": seconds})


if __name__ == "__main__":
    main()
