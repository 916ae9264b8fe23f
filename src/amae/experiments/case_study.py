"""The Fig. 3 case study: what the listeners of a track posted, overall vs in the day before.

For each chosen track (the most played ones by default) and a few interpretable handcrafted
features, two means are compared:

* **global**: the mean of the listeners' global vectors (their posts in the training period),
  one vote per distinct listener;
* **contextual**: the mean over the track's listens of the posts in the 24 h before each listen,
  counting only listens whose window held at least one post (the padded ones would just repeat
  the global vector and hide the difference the figure is about).

Visual features are averaged over posts that carry media only, because a post without an image
has zeros there, which would say "no image" rather than "cold colours". The aggregation is the
one models use (:func:`amae.features.aggregate.aggregate`), restricted to the few columns shown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.data.contract import Dataset
from amae.data.io import DataError, write_json
from amae.features.aggregate import DEFAULT_WINDOW_SECONDS, Aggregated, aggregate, training_cutoffs
from amae.features.extract import load_group
from amae.protocol.split import Split


@dataclass(frozen=True)
class CaseFeature:
    group: str
    name: str
    label: str


#: The features of Fig. 3 (paper: happiness, first-person pronouns, home words, text length,
#: cold colour area, face count), by the names our extractors give them.
CASE_FEATURES = (
    CaseFeature("text_h", "emo7_happiness", "happiness words (share of tokens)"),
    CaseFeature("text_h", "pron_first_singular", "1st person singular pronouns (share)"),
    CaseFeature("text_h", "topic_home", "home/family words (share)"),
    CaseFeature("text_h", "macro_chars", "text length (characters)"),
    CaseFeature("visual_h", "color_cold_area", "cold colour area (share of image)"),
    CaseFeature("visual_h", "face_count", "faces per image"),
)


def pick_tracks(dataset: Dataset, split: Split, tracks: list[str] | None, n_tracks: int) -> np.ndarray:
    """Dense indices of the user-named tracks (ids as in the dataset), or the most played in training."""
    if tracks:
        idx = dataset.items.encode(list(tracks))
        unknown = [t for t, i in zip(tracks, idx, strict=True) if i < 0]
        if unknown:
            raise DataError(f"case study: unknown track id(s) {unknown[:5]} (not in the dataset's interactions)")
        return idx
    rows = np.concatenate([split.fit_rows, split.valid_rows])
    counts = np.bincount(dataset.interactions["item_idx"].to_numpy(np.int64)[rows], minlength=dataset.n_items)
    order = np.lexsort((np.arange(len(counts)), -counts))  # most played first, ties by index
    return order[:n_tracks]


def track_names(dataset: Dataset, items: np.ndarray) -> list[str]:
    ids = [str(x) for x in dataset.items.decode(items)]
    info = dataset.item_info
    if info is None or "title" not in info.columns:
        return ids
    titles = info.set_index("item_idx")["title"] if "item_idx" in info.columns else pd.Series(dtype=object)
    out = []
    for i, tid in zip(items, ids, strict=True):
        t = titles.get(int(i))
        out.append(f"{t} ({tid})" if isinstance(t, str) and t and t != tid else tid)
    return out


@dataclass
class _Listens:
    """The listens of the chosen tracks, and what aggregation needs around them."""

    user: np.ndarray  # (n_selected,) listener of each listen of a chosen track
    item: np.ndarray
    time: np.ndarray
    cutoff: np.ndarray  # per user: end of the training period (global vectors use posts before it)
    post_user: np.ndarray  # posts in post_idx order
    post_time: np.ndarray


def _chosen_listens(dataset: Dataset, split: Split, items: np.ndarray) -> _Listens:
    """Listens of ``items`` with the per-user training cutoffs (fit + validation count as training)."""
    inter = dataset.interactions
    i_user = inter["user_idx"].to_numpy(np.int64)
    i_item = inter["item_idx"].to_numpy(np.int64)
    i_time = inter["timestamp"].to_numpy(np.int64)
    is_train = np.zeros(len(inter), dtype=bool)
    is_train[np.concatenate([split.fit_rows, split.valid_rows])] = True
    cutoff = training_cutoffs(i_user, i_time, is_train, dataset.n_users)
    posts = dataset.posts.sort_values("post_idx")
    sel = np.isin(i_item, items)
    return _Listens(i_user[sel], i_item[sel], i_time[sel], cutoff, posts["user_idx"].to_numpy(np.int64),
                    posts["timestamp"].to_numpy(np.int64))


def _track_means(agg: Aggregated, k: int, items: np.ndarray, listens: _Listens) -> list[dict]:
    """Global (one vote per listener with posts) and contextual (listens with a non-empty window)
    means of feature column ``k`` for each track."""
    per_track = []
    for it in items:  # a handful of tracks; each is a vectorised mean
        m = listens.item == it
        users = np.unique(listens.user[m])
        users = users[agg.user_has_posts[users]]
        ctx = m & ~agg.context_empty
        per_track.append({
            "global": float(agg.global_[users, k].mean()) if len(users) else float("nan"),
            "contextual": float(agg.contextual[ctx, k].mean()) if ctx.any() else float("nan"),
            "n_listeners": int(len(users)), "n_listens_with_context": int(ctx.sum()),
            "n_listens": int(m.sum())})
    return per_track


def _group_study(feat_dir: Path, group: str, posts: pd.DataFrame, items: np.ndarray, listens: _Listens,
                 n_users: int, window: int, results: dict[str, dict], missing: list[str]) -> None:
    """The case-study features of one feature group into ``results`` (those not extracted into ``missing``).

    Only the few shown columns are aggregated, with the models' own aggregation; visual features
    over posts with media only.
    """
    wanted = [f for f in CASE_FEATURES if f.group == group]
    try:
        arr, meta = load_group(feat_dir, group)
    except FileNotFoundError:
        missing += [f.name for f in wanted]
        return
    names = list(meta.get("names", []))
    present = [f for f in wanted if f.name in names]
    missing += [f.name for f in wanted if f.name not in names]
    if not present:
        return
    cols = [names.index(f.name) for f in present]
    keep = np.ones(len(posts), dtype=bool)
    if group.startswith("visual"):
        keep = _posts_with_media(feat_dir, posts)
    x = np.asarray(arr[:, cols], dtype=np.float32)[keep]
    agg = aggregate(listens.post_user[keep], listens.post_time[keep], x, listens.user, listens.time, n_users,
                    global_until=listens.cutoff, window=window)
    population = agg.global_[agg.user_has_posts].mean(axis=0) if agg.user_has_posts.any() else \
        np.full(len(cols), np.nan)
    for k, f in enumerate(present):
        results[f.name] = {"label": f.label, "group": group, "population_global": float(population[k]),
                           "tracks": _track_means(agg, k, items, listens),
                           "posts": "posts with media only" if group.startswith("visual") else "all posts"}


def case_study(workspace: Path, dataset: Dataset, split: Split, out_dir: Path, tracks: list[str] | None = None,
               n_tracks: int = 5, window: int = DEFAULT_WINDOW_SECONDS) -> dict:
    """Compute the Fig. 3 means, draw ``out_dir/case_study.png``, return every number.

    Features whose group was not extracted are listed under ``missing`` rather than failing.
    """
    if not dataset.has_content:
        raise DataError("case study: the dataset has no posts")
    items = pick_tracks(dataset, split, tracks, n_tracks)
    listens = _chosen_listens(dataset, split, items)
    posts = dataset.posts.sort_values("post_idx")
    feat_dir = Path(workspace) / "features"
    results: dict[str, dict] = {}
    missing: list[str] = []
    for group in sorted({f.group for f in CASE_FEATURES}):
        _group_study(feat_dir, group, posts, items, listens, dataset.n_users, window, results, missing)
    names = track_names(dataset, items)
    out = {"tracks": names, "track_idx": [int(i) for i in items], "window_seconds": int(window),
           "features": results, "missing": missing,
           "selection": "named by the user" if tracks else f"the {len(items)} most played tracks in training"}
    out_dir = Path(out_dir)
    if results:
        out["figure"] = str(plot_case_study(out, out_dir / "case_study.png"))
    write_json(out_dir / "case_study.json", out)
    return out


def _posts_with_media(feat_dir: Path, posts: pd.DataFrame) -> np.ndarray:
    flags_path = feat_dir / "visual" / "flags.parquet"
    if flags_path.exists():
        flags = pd.read_parquet(flags_path)
        if "visual_none" in flags.columns:
            none = flags.set_index("post_idx")["visual_none"].reindex(posts["post_idx"]).fillna(True)
            return ~none.to_numpy(bool)
    return posts["media"].map(len).to_numpy() > 0


def plot_case_study(study: dict, target: Path) -> Path:
    """Grouped bars (global vs contextual) per track, one panel per feature; written atomically."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    feats = list(study["features"].items())
    n = len(feats)
    ncol = min(3, n)
    nrow = -(-n // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol, 3.4 * nrow), squeeze=False)
    tracks = study["tracks"]
    x = np.arange(len(tracks))
    for ax, (name, f) in zip(axes.flat, feats, strict=False):
        g = [t["global"] for t in f["tracks"]]
        c = [t["contextual"] for t in f["tracks"]]
        ax.bar(x - 0.2, g, 0.4, label="global", color="#4C72B0")
        ax.bar(x + 0.2, c, 0.4, label="contextual (24 h before)", color="#DD8452")
        if np.isfinite(f["population_global"]):
            ax.axhline(f["population_global"], color="grey", ls="--", lw=1, label="all users (global)")
        ax.set_title(f"{name}\n{f['label']}", fontsize=9)
        ax.set_xticks(x)
        ax.set_xticklabels([t.split(" (")[0] for t in tracks], rotation=30, ha="right", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle("Case study (cf. paper Fig. 3): listeners' posts, global vs the 24 h before listening",
                 fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.95))
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    os.replace(tmp, target)
    return target
