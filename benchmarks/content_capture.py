"""Where is the content signal lost? Capture of the available content gain, per configuration.

On a folder written by `amae world` (which keeps its truth), the Bayes ceilings say how much
NDCG@10 knowing the day's mood from the window's posts is worth (observable minus collaborative).
This script trains MF and MF+AMAE / DMF+AMAE variants on the world and prints, per variant, the
share of that gain each captured over its backbone, on new pairs and on all pairs, with seeds:

- ``default``: the model as `amae experiment` runs it; ``paper``: the paper preset;
- ``oracle``: the extracted features replaced by the world's true daily mood (a one-hot per post,
  as text_h), so the loss of everything after the features is isolated;
- stage ablations (``no_dropout``, ``no_attention``, ``contextual_only``, ``text_only``, ...).

It also prints yardsticks (:mod:`amae.experiments.ceilings`): the ``estimated`` reader, a perfect
reader of the posts that picks each track's mood from the fitting listens (it knows the world's
form: one mood per track, one strength); the ``smoothed`` reader, which estimates every (track,
mood) effect from those listens as a smoothed log lift, as a model with a free vector per track
must; and, when the default backbone is among the cells, each trained backbone plus the smoothed
reader's effect (one scale per cell, picked on validation cases): what that backbone would capture
with a perfect reader of the posts as its content part, the yardstick for the content model on it.

    python benchmarks/content_capture.py WORLD [--seeds 3] [--variant default --variant oracle ...]
        [--backbone mf --backbone dmf] [--json out.json] [-j 2]

Cells are reused from the workspace next to the world (``WORLD-capture-ws``), so a rerun is free.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from amae.compute.tasks import available_cores

#: the former default (the paper's raw contextual code, both codes at dropout 0.7): the base of the
#: ablations measured before the deviation default, each spelled out so a variant keeps its meaning
RAW = {"context_input": "raw", "code_dropout": 0.7, "global_dropout": 0.7}
DEV = {"context_input": "deviation"}
TEXT_H = {"modalities": ["text"], "groups": ["handcrafted"]}


def _drop(rate: float, global_rate: float | None = None) -> dict[str, float]:
    return {"code_dropout": rate, "global_dropout": rate if global_rate is None else global_rate}


#: variant -> (params over the model's defaults, uses the oracle workspace)
VARIANTS: dict[str, tuple[dict[str, Any], bool]] = {
    "default": ({}, False),
    "paper": ({"dim": 16, "init_std": 0.01, "batch_size": 512, "n_negatives": 3, **_drop(0.0),
               "context_input": "raw", "literal_relu": True, "repeat": False}, False),
    "raw_d0.7": (RAW, False),
    "no_dropout": ({**RAW, **_drop(0.0)}, False),
    "dropout_0.3": ({**RAW, **_drop(0.3)}, False),
    "no_attention": ({**RAW, "no_attention": True}, False),
    "contextual_only": ({**RAW, "contexts": ["contextual"]}, False),
    "text_only": ({**RAW, "modalities": ["text"]}, False),
    "text_h_only": ({**RAW, **TEXT_H}, False),
    "no_stage1": ({**RAW, "stage1_epochs": 0}, False),
    "residual": ({"context_input": "residual"}, False),
    "residual_no_dropout": ({"context_input": "residual", **_drop(0.0)}, False),
    "residual_d0.1": ({"context_input": "residual", **_drop(0.1, 0.7)}, False),
    "residual_d0.5": ({"context_input": "residual", **_drop(0.5, 0.7)}, False),
    "residual_g0.9": ({"context_input": "residual", **_drop(0.3, 0.9)}, False),
    "deviation": ({**DEV, **_drop(0.7)}, False),
    "deviation_d0.3": ({**DEV, **_drop(0.3)}, False),
    "deviation_no_dropout": ({**DEV, **_drop(0.0)}, False),
    "deviation_d0.5": ({**DEV, **_drop(0.5)}, False),
    "deviation_ctx_only_d0.3": ({**DEV, "contexts": ["contextual"], **_drop(0.3)}, False),
    "deviation_text_h_d0.3": ({**DEV, **TEXT_H, **_drop(0.3)}, False),
    "deviation_ctx_only_no_dropout": ({**DEV, "contexts": ["contextual"], **_drop(0.0)}, False),
    "deviation_ctx_only_d0.5": ({**DEV, "contexts": ["contextual"], **_drop(0.5)}, False),
    "deviation_d0.3_g0.9": ({**DEV, **_drop(0.3, 0.9)}, False),
    "deviation_d0.3_g0.7": ({**DEV, **_drop(0.3, 0.7)}, False),
    "oracle": ({**RAW, **TEXT_H}, True),
    "oracle_residual": ({"context_input": "residual", **TEXT_H}, True),
    "oracle_residual_new_pairs": ({"context_input": "residual", **TEXT_H, "stop_on": "new_pairs"}, True),
    "residual_new_pairs": ({"context_input": "residual", "stop_on": "new_pairs"}, False),
    "oracle_no_dropout": ({**RAW, **TEXT_H, **_drop(0.0)}, True),
    "no_repeat": ({"repeat": False}, False),
    "oracle_d0": ({**TEXT_H, **_drop(0.0, 0.7)}, True),
    "oracle_long": ({**TEXT_H, "min_epochs": 40}, True),
    "oracle_lr0.01": ({**TEXT_H, "lr": 0.01}, True),
    "oracle_dim32": ({**TEXT_H, "dim": 32}, True),
    "long": ({"min_epochs": 40}, False),
    "oracle_neg8": ({**TEXT_H, "n_negatives": 8}, True),
    "oracle_no_attention": ({**TEXT_H, "no_attention": True}, True),
    "oracle_batch128": ({**TEXT_H, "batch_size": 128}, True),
    "oracle_ctx_only": ({**TEXT_H, "contexts": ["contextual"]}, True),
    "oracle_g0.9": ({**TEXT_H, **_drop(0.3, 0.9)}, True),
    "oracle_no_stage1": ({**TEXT_H, "stage1_epochs": 0}, True),
    "oracle_lr0.001": ({**TEXT_H, "lr": 0.001}, True),
    "lr0.001": ({"lr": 0.001}, False),
    "lr0.001_d0.2": ({"lr": 0.001, **_drop(0.2, 0.7)}, False),
    "lr0.0005": ({"lr": 0.0005}, False),
    "lr0.00025": ({"lr": 0.00025}, False),
    "d0_g0.7": ({**_drop(0.0, 0.7), "track_content": "backbone"}, False),  # no contextual dropout alone
    "d0_g0.7_table": ({**_drop(0.0, 0.7), "track_content": "table"}, False),
    "neg8": ({"n_negatives": 8}, False),
    "dim32": ({"dim": 32}, False),
    "batch256": ({"batch_size": 256}, False),
    "table": ({"track_content": "table", **_drop(0.3, 0.7)}, False),  # the table alone, as measured
}

#: the scales of the reader's effect tried on a backbone (picked on validation cases)
READER_SCALES = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)

#: parameters a variant's backbone is run with too, so its capture is over the same backbone
SHARED_KEYS = ("stop_on", "repeat")


def shared_params(name: str) -> dict[str, Any]:
    """The variant's parameters its backbone takes too (:data:`SHARED_KEYS`)."""
    return {k: v for k, v in VARIANTS[name][0].items() if k in SHARED_KEYS}


def backbone_key(shared: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(shared.items())) or "defaults"


def oracle_workspace(ws: Path, world: Path) -> Path:
    """A sibling workspace whose only post feature is the true mood of each post's day (text_h)."""
    from amae.data.synthetic import WorldTruth
    from amae.data.workspace import load_workspace
    from amae.experiments.ceilings import world_index

    out = ws.parent / (ws.name + "-oracle")
    if (out / "features" / "text" / "text_h.npy").exists():
        return out
    for part in ("data", "split"):
        shutil.copytree(ws / part, out / part, dirs_exist_ok=True)
    ds = load_workspace(out)
    truth = WorldTruth.load(world)
    users = world_index(ds.users, "u", truth.user_taste.shape[0])
    posts = ds.posts.sort_values("post_idx")
    mood = truth.mood[users[posts["user_idx"].to_numpy(np.int64)], truth.day_of(posts["timestamp"].to_numpy(np.int64))]
    n_moods = int(truth.mood.max()) + 1
    onehot = np.zeros((len(posts), n_moods), dtype=np.float32)
    onehot[np.arange(len(posts)), mood] = 1.0
    text = out / "features" / "text"
    text.mkdir(parents=True, exist_ok=True)
    np.save(text / "text_h.npy", onehot)
    names = [f"oracle_mood_{k}" for k in range(n_moods)]
    (text / "text_h.json").write_text(json.dumps({"names": names, "metadata": {"oracle": True}, "dim": n_moods}))
    shutil.copy(ws / "features" / "text" / "flags.parquet", text / "flags.parquet")
    (text / "report.json").write_text(json.dumps({"modality": "text", "n_posts": len(posts), "failures": 0,
                                                 "groups": {"text_h": n_moods}, "seconds": 0.0}))
    return out


def capture(world: Path, variants: list[str], backbones: list[str], seeds: list[int],
            jobs: int = 1) -> dict[str, Any]:
    """Train the backbones and each variant on ``world``: the ceilings and one row per (backbone, variant).

    Every (backbone or variant, seed) cell is one task on ``jobs`` worker processes; the numbers do
    not depend on ``jobs``.
    """
    from amae.compute.tasks import run_tasks
    from amae.experiments.ceilings import captured_shares, world_ceilings
    from amae.experiments.parallel import CellTask, remember, run_cell_task
    from amae.experiments.runner import ensure_features, prepare_workspace
    from amae.experiments.summary import seed_summary

    ws = world.parent / (world.name + "-capture-ws")
    dataset, split, _ = prepare_workspace("contract", world, ws, "temporal", 0, print)
    ensure_features(ws, {}, jobs, {"visual": 512}, print)
    ceilings = world_ceilings(world, dataset, split, estimated=True)
    print("ceilings, full NDCG@10 new pairs / all pairs: " + ", ".join(
        f"{k} {ceilings[k]['full_new_pairs']['NDCG@10']:.4f} / {ceilings[k]['full']['NDCG@10']:.4f}"
        for k in ("collaborative", "smoothed", "estimated", "observable", "omniscient"))
        + f"; track moods estimated right from the fitting listens: {ceilings['estimated_moods_right']:.0%}",
        flush=True)
    for reader in ("smoothed", "estimated"):
        share = captured_shares(*(_as_summary(ceilings[k]) for k in (reader, "collaborative")), ceilings)
        print(f"{reader} reader captures {share['full_new_pairs']['share']:.0%} (new pairs) / "
              f"{share['full']['share']:.0%} (all pairs) over the collaborative ceiling", flush=True)
    remember(ws, dataset, split)
    # A variant that stops on other validation cases (or adds the repeat term) is compared with its
    # backbone run the same way.
    shared = {backbone_key(shared_params(name)): shared_params(name) for name in variants}
    tasks = [(b, key, CellTask(str(ws), b, s, {"progress": False, **params}))
             for b in backbones for key, params in sorted(shared.items()) for s in seeds]
    for b in backbones:
        for name in variants:
            params, oracle = VARIANTS[name]
            where = oracle_workspace(ws, world) if oracle else ws
            tasks += [(b, name, CellTask(str(where), f"{b}+amae", s, {**params, "progress": False},
                                         label=f"{b}+amae-{name}")) for s in seeds]
    t0 = time.perf_counter()
    outcomes = run_tasks(run_cell_task, [(t,) for *_, t in tasks], n_jobs=jobs)
    failed = [o["error"] for o in outcomes if "error" in o]
    if failed:
        raise RuntimeError(f"{len(failed)} cell(s) failed: {failed[0]}")
    cells: dict[tuple[str, str], list[dict]] = {}
    for (b, name, _), o in zip(tasks, outcomes, strict=True):
        cells.setdefault((b, name), []).append({**o["metrics"], "_seconds": o["seconds"]})
    rows = []
    default = backbone_key({})
    yardstick = {b: backbone_plus_reader(world, ws, dataset, split, [c["cell"] for c in cells[(b, default)]], ceilings)
                 for b in backbones if default in shared}
    for b, y in yardstick.items():
        c = y["captured"]
        print(f"{b:4} + smoothed reader's effect (scales {y['scales']}): "
              f"NDCG@10 new {y['ndcg_new'][0]:.4f} all {y['ndcg_all'][0]:.4f}  "
              f"captured new pairs {c['full_new_pairs']['share']:6.0%}, all pairs {c['full']['share']:6.0%}",
              flush=True)
    for b in backbones:
        for name in variants:
            base = seed_summary(cells[(b, backbone_key(shared_params(name)))])
            mine = cells[(b, name)]
            summary = seed_summary(mine)
            rows.append({"backbone": b, "variant": name, "params": VARIANTS[name][0],
                         "backbone_ndcg_new": base["full_new_pairs"]["NDCG@10"],
                         "backbone_ndcg_all": base["full"]["NDCG@10"],
                         "seconds": sum(c["_seconds"] for c in mine),
                         "ndcg_new": summary["full_new_pairs"]["NDCG@10"], "ndcg_all": summary["full"]["NDCG@10"],
                         "captured": captured_shares(summary, base, ceilings),
                         "captured_per_seed": [captured_shares(seed_summary([c]), base, ceilings) for c in mine]})
            print(_line(rows[-1]), flush=True)
    return {"ceilings": {k: {v: ceilings[k][v]["NDCG@10"] for v in ("full", "full_new_pairs")}
                         for k in ("collaborative", "smoothed", "estimated", "observable", "omniscient")},
            "estimated_moods_right": ceilings["estimated_moods_right"], "rows": rows, "yardstick": yardstick,
            "wall_s": time.perf_counter() - t0, "jobs": jobs}


def backbone_plus_reader(world: Path, ws: Path, dataset: Any, split: Any, cells: list[str],
                         ceilings: dict[str, Any]) -> dict[str, Any]:
    """Each trained backbone cell's scores plus the smoothed reader's effect of the day's mood
    (:class:`amae.experiments.ceilings.SmoothedReader`): the gain that backbone would get from a
    perfect reader of the posts who estimates each (track, mood) effect from the fitting listens,
    as a share of the available gain. A yardstick for the content models on the same backbone."""
    from amae.data.io import read_json
    from amae.data.synthetic import WorldTruth
    from amae.experiments.ceilings import (
        WINDOW_SECONDS,
        SmoothedReader,
        _readable_posts,
        captured_shares,
        smoothed_item_effects,
        world_index,
    )
    from amae.experiments.summary import seed_summary
    from amae.models.base import REGISTRY
    from amae.protocol.metrics import evaluate, sampled_ranks, summarise
    from amae.protocol.stored import history_pairs

    truth = WorldTruth.load(world)
    users = world_index(dataset.users, "u", truth.user_taste.shape[0])
    items = world_index(dataset.items, "t", len(truth.item_mood))
    posts = _readable_posts(dataset, users)
    effect = SmoothedReader(truth, users, items, smoothed_item_effects(truth, dataset, split, users, items, posts),
                            posts, WINDOW_SECONDS, None)
    pairs = history_pairs(dataset, split)
    base, plus, scales = [], [], []
    for cell in cells:
        folder = ws / "models" / cell
        model = REGISTRY[read_json(folder / "model.json")["name"]].load(folder)
        base.append(evaluate(model.score, split.test, dataset.n_items, pairs))
        # The backbone's logits are not the world's log-probabilities, so the reader's effect gets
        # one scale, picked on the validation cases (sampled NDCG@10, as early stopping reads them).
        scale = max(READER_SCALES, key=lambda c, m=model: summarise(sampled_ranks(
            lambda u, i, t: m.score(u, i, t) + c * effect(u, i, t), split.valid))["NDCG@10"])
        scales.append(scale)
        plus.append(evaluate(lambda u, i, t, m=model, c=scale: m.score(u, i, t) + c * effect(u, i, t), split.test,
                             dataset.n_items, pairs))
    summary = seed_summary(plus)
    return {"ndcg_new": summary["full_new_pairs"]["NDCG@10"], "ndcg_all": summary["full"]["NDCG@10"],
            "scales": scales, "captured": captured_shares(summary, seed_summary(base), ceilings)}


def _as_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    """A ceiling's metrics in :func:`seed_summary`'s shape (metric -> [mean, std])."""
    return {view: {m: [v, 0.0] for m, v in row.items()} for view, row in metrics.items() if isinstance(row, dict)}


def _line(r: dict[str, Any]) -> str:
    c = r["captured"]
    seeds = ", ".join(f"{s['full_new_pairs']['share']:.0%}" for s in r["captured_per_seed"])
    return (f"{r['backbone']:4} {r['variant']:18} NDCG@10 new {r['ndcg_new'][0]:.4f} all {r['ndcg_all'][0]:.4f} "
            f"(backbone {r['backbone_ndcg_new'][0]:.4f} / {r['backbone_ndcg_all'][0]:.4f})  "
            f"captured new pairs {c['full_new_pairs']['share']:6.0%} (seeds {seeds}), all pairs "
            f"{c['full']['share']:6.0%}  ({r['seconds']:.0f}s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("world", type=Path)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    ap.add_argument("--backbone", action="append", choices=["mf", "dmf"])
    ap.add_argument("--json", type=Path)
    ap.add_argument("-j", "--jobs", type=int, default=available_cores(), help="cells trained at once")
    args = ap.parse_args()
    out = capture(args.world.resolve(), args.variant or ["default", "oracle"], args.backbone or ["mf"],
                  list(range(args.seeds)), args.jobs)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
