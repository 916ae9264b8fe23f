"""How strongly a trained model lifts the tracks of the day's mood: the track side of the content signal.

On an ``amae world`` folder (which keeps its truth) and a model cell trained on its workspace,
scores every track for every test case and prints:

- the mean logit gap between the tracks of the case's true mood and the others;
- per track, its mean score on cases of each mood minus its overall mean (its mood profile): the
  share of tracks whose strongest mood is their true one, and the mean ± std over tracks of the
  lift on their own mood, beside the generator's (``strength * (1 - 1/moods)``) and what a reader
  of the window's posts could reach (that, times the share of cases with a post in the window).

    python benchmarks/mood_lift.py WORLD WORKSPACE MODEL_DIR [MODEL_DIR ...]

(``MODEL_DIR``: ``WORKSPACE/models/<label>-<hash>-seed<k>``, as ``content_capture.py`` leaves them.)
Writes ``benchmarks/results/mood_lift.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from _common import write_results

from amae.data.ranges import window_counts
from amae.data.synthetic import WorldTruth
from amae.data.workspace import load_workspace
from amae.experiments.ceilings import WINDOW_SECONDS, world_index
from amae.experiments.runs import load_split
from amae.models import REGISTRY

#: test cases scored per block (every track each)
BLOCK = 512


def lift(world: Path, workspace: Path, model_dir: Path) -> dict:
    ds, split, truth = load_workspace(workspace), load_split(workspace), WorldTruth.load(world)
    wu = world_index(ds.users, "u", truth.user_taste.shape[0])
    wi = world_index(ds.items, "t", len(truth.item_mood))
    model = REGISTRY[json.loads((model_dir / "model.json").read_text())["name"]].load(model_dir)
    users, times = split.test.users, split.test.times
    every = np.arange(ds.n_items)
    scores = np.concatenate([model.score(users[s:s + BLOCK], np.tile(every, (len(users[s:s + BLOCK]), 1)),
                                         times[s:s + BLOCK]) for s in range(0, len(users), BLOCK)])
    mood = truth.mood[wu[users], truth.day_of(times)]
    item_mood = truth.item_mood[wi]
    match = item_mood[None, :] == mood[:, None]
    gap = np.where(match, scores, 0).sum(1) / match.sum(1) - np.where(~match, scores, 0).sum(1) / (~match).sum(1)
    n_moods = int(max(truth.mood.max(), truth.item_mood.max())) + 1
    profile = np.stack([scores[mood == k].mean(0) for k in range(n_moods)])
    profile -= profile.mean(0, keepdims=True)
    own = profile[item_mood, np.arange(ds.n_items)]
    posts = ds.posts
    readable = (wu[posts["user_idx"].to_numpy(np.int64)], posts["timestamp"].to_numpy(np.int64))
    with_post = window_counts(*readable, wu[users], times, WINDOW_SECONDS) > 0
    generator = truth.mood_strength * (1 - 1 / n_moods)
    return {"model": model_dir.name, "cases": len(users), "gap_mean": float(gap.mean()),
            "tracks_right": float((profile.argmax(0) == item_mood).mean()),
            "own_lift": [float(own.mean()), float(own.std())],
            "generator_lift": generator, "readable_lift": generator * float(with_post.mean())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("world", type=Path)
    ap.add_argument("workspace", type=Path)
    ap.add_argument("models", type=Path, nargs="+")
    args = ap.parse_args()
    rows = []
    for m in args.models:
        r = lift(args.world, args.workspace, m)
        rows.append(r)
        print(f"{r['model']}: gap {r['gap_mean']:.2f}; tracks whose strongest mood is theirs {r['tracks_right']:.0%}; "
              f"own-mood lift {r['own_lift'][0]:.2f} ± {r['own_lift'][1]:.2f} (generator {r['generator_lift']:.2f}, "
              f"a reader of the posts {r['readable_lift']:.2f})", flush=True)
    write_results("mood_lift", {"world": str(args.world), "rows": rows})


if __name__ == "__main__":
    main()
