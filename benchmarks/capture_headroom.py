"""Where a content model's capture is lost: its collaborative part, its reading of the day, or its tracks.

On an `amae world` folder's workspace, for one trained backbone cell and one trained AMAE cell,
full-ranking NDCG@10 (new pairs / all pairs) of score combinations that swap a part of the model
for the truth (the generator's observable-minus-collaborative log-probability, "true content"):

- ``backbone`` and ``backbone + true content``: what a perfect content term adds to that backbone;
- ``amae`` and ``amae without windows`` (every window empty: its collaborative part and global code);
- ``amae without windows + true content``: the model's own collaborative part with a perfect content term;
- ``amae, today per true track mood``: the model's own change for the window (its "today" term,
  ``score(t) - score(no window)``), replaced for every track by the mean over the tracks of the
  same true mood in that case: the model's reading of the day, with every track's noise removed.

Each row's share of the available gain (observable minus collaborative ceiling) over the backbone
cell is printed beside it. A diagnostic: nothing here is selected on, and nothing feeds a model.

    python benchmarks/content_capture.py WORLD ...   # trains and keeps the cells in WORLD-capture-ws
    python benchmarks/capture_headroom.py WORLD WORLD-capture-ws/models/mf-...-seed0 \\
        WORLD-capture-ws/models/mf+amae-...-seed0 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np


def headroom(world: Path, backbone_dir: Path, amae_dir: Path) -> dict[str, Any]:
    from amae.data.io import read_json
    from amae.data.synthetic import WorldTruth
    from amae.data.workspace import load_workspace
    from amae.experiments.ceilings import TruthScorer, _readable_posts, world_ceilings, world_index
    from amae.models.base import REGISTRY
    from amae.protocol.metrics import evaluate
    from amae.protocol.stored import history_pairs, load_split

    ws = backbone_dir.parent.parent
    ds, split = load_workspace(ws), load_split(ws)
    truth = WorldTruth.load(world)
    users = world_index(ds.users, "u", truth.user_taste.shape[0])
    items = world_index(ds.items, "t", len(truth.item_mood))
    posts, pairs = _readable_posts(ds, users), history_pairs(ds, split)
    observable = TruthScorer(truth, users, items, "observable", posts)
    collaborative = TruthScorer(truth, users, items, "collaborative", posts)
    backbone, amae = (REGISTRY[read_json(d / "model.json")["name"]].load(d) for d in (backbone_dir, amae_dir))
    mood = truth.item_mood[items]  # dense track -> true mood
    members = np.eye(int(mood.max()) + 1)[mood]  # (n_items, n_moods)
    every = np.arange(ds.n_items)

    def true_content(u: np.ndarray, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        return observable(u, i, t) - collaborative(u, i, t)

    def today_per_mood(u: np.ndarray, i: np.ndarray, t: np.ndarray) -> np.ndarray:
        grid = np.broadcast_to(every, (len(u), ds.n_items))
        today = amae.score(u, grid, t) - amae.score(u, grid, None)
        per_mood = (today @ members) / members.sum(axis=0)  # (n, n_moods): the case's mean per true mood
        return amae.score(u, i, None) + np.take_along_axis(per_mood, mood[i], axis=1)

    rows = {
        "backbone": backbone.score,
        "backbone + true content": lambda u, i, t: backbone.score(u, i, t) + true_content(u, i, t),
        "amae": amae.score,
        "amae without windows": lambda u, i, t: amae.score(u, i, None),
        "amae without windows + true content": lambda u, i, t: amae.score(u, i, None) + true_content(u, i, t),
        "amae, today per true track mood": today_per_mood,
    }
    ceilings = world_ceilings(world, ds, split)
    out: dict[str, Any] = {}
    for name, fn in rows.items():
        result = evaluate(fn, split.test, ds.n_items, pairs)
        out[name] = {view: result[view]["NDCG@10"] for view in ("full_new_pairs", "full")}
    for name, row in out.items():
        row["share"] = {view: (row[view] - out["backbone"][view])
                        / (ceilings["observable"][view]["NDCG@10"] - ceilings["collaborative"][view]["NDCG@10"])
                        for view in ("full_new_pairs", "full")}
        print(f"{name:38} NDCG@10 new {row['full_new_pairs']:.4f} all {row['full']:.4f}   share of the available "
              f"gain over the backbone: new {row['share']['full_new_pairs']:5.0%} all {row['share']['full']:5.0%}",
              flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("world", type=Path)
    ap.add_argument("backbone", type=Path, help="a trained backbone cell's folder (WS/models/CELL)")
    ap.add_argument("amae", type=Path, help="a trained MF+AMAE or DMF+AMAE cell's folder")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out = headroom(args.world.resolve(), args.backbone.resolve(), args.amae.resolve())
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
