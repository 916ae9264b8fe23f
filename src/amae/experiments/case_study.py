"""The Fig. 3 case study: what the listeners of a track posted, overall vs in the day before.

For each chosen track (the most played ones by default) and a few interpretable handcrafted
features, two means are compared:

* **global**: the mean of the listeners' global vectors (their posts in the training period),
  one vote per distinct listener;
* **contextual**: the mean over the track's listens of the posts in the 24 h before each listen,
  counting only listens whose window held at least one post (the padded ones would just repeat
  the global vector and hide the difference the figure is about).

Each modality is averaged over the posts that carry it, as models average it: a post without an
image has zeros in its visual columns, which would say "no image" rather than "cold colours", and
an empty post would count as zero happiness words. The means are the models' own: the columns
shown are read with the content store's post selection and sort
(:func:`amae.content.posts.group_columns`) and averaged by a :class:`ContextEncoder` (the
global vectors before each user's training cutoff, the contextual ones over the window's post
range), unstandardised, so the figure reads in the features' units.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amae.content.posts import DEFAULT_WINDOW_SECONDS, ContextEncoder, group_columns
from amae.data.contract import Dataset
from amae.data.io import DataError, write_json
from amae.features.extract import load_group
from amae.features.modalities import modality_of_group
from amae.protocol.split import Split, training_until


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
    """The listens of the chosen tracks, and the cutoffs their listeners' global vectors stop at."""

    user: np.ndarray  # (n_selected,) listener of each listen of a chosen track
    item: np.ndarray
    time: np.ndarray
    until: np.ndarray  # per user: the training-period cutoff (global vectors use posts before it)


def _chosen_listens(dataset: Dataset, split: Split, items: np.ndarray) -> _Listens:
    """Listens of ``items`` with the per-user training cutoffs of the split (fit + validation), the
    same cutoffs the models' global vectors use (:func:`amae.content.posts.global_cutoffs`)."""
    inter = dataset.interactions
    i_item = inter["item_idx"].to_numpy(np.int64)
    sel = np.isin(i_item, items)
    return _Listens(inter["user_idx"].to_numpy(np.int64)[sel], i_item[sel],
                    inter["timestamp"].to_numpy(np.int64)[sel], training_until(split.train_end, dataset.n_users))


@dataclass(frozen=True)
class _Means:
    """One group's shown columns, as the models see them before standardisation."""

    global_: np.ndarray  # (n_users, k) mean of each user's posts before the cutoff (zeros without)
    has_posts: np.ndarray  # (n_users,) whether the user has such a post
    contextual: np.ndarray  # (n_selected, k) mean of the window's posts (the global vector when empty)
    empty: np.ndarray  # (n_selected,) whether the window before the listen held no post


def _store_means(workspace: Path, group: str, cols: list[int], listens: _Listens, n_users: int,
                 window: int) -> _Means:
    """The global and contextual means of ``cols`` of ``group``, read from the content store.

    The store's one streaming pass gives the global means and the counts that say who has posts;
    the encoder then averages each listen's window range, padding empty ones with the global vector.
    """
    mod = modality_of_group(group)
    posts = group_columns(workspace, group, cols)
    global_, counts = posts.user_means(n_users, listens.until)
    encoder = ContextEncoder({mod: posts}, n_users, listens.until, window, raw_global={mod: global_})
    contextual, empty = encoder.raw_contextual(mod, listens.user, listens.time)
    return _Means(global_, counts > 0, contextual, empty)


def _track_means(means: _Means, k: int, items: np.ndarray, listens: _Listens) -> list[dict]:
    """Global (one vote per listener with posts) and contextual (listens with a non-empty window)
    means of feature column ``k`` for each track."""
    per_track = []
    for it in items:  # a handful of tracks; each is a vectorised mean
        m = listens.item == it
        users = np.unique(listens.user[m])
        users = users[means.has_posts[users]]
        ctx = m & ~means.empty
        per_track.append({
            "global": float(means.global_[users, k].mean()) if len(users) else float("nan"),
            "contextual": float(means.contextual[ctx, k].mean()) if ctx.any() else float("nan"),
            "n_listeners": int(len(users)), "n_listens_with_context": int(ctx.sum()),
            "n_listens": int(m.sum())})
    return per_track


#: which posts each modality's case-study means are over (those that carry it, as models average it)
POSTS_COUNTED = {"text": "posts with text only", "visual": "posts with media only"}


def _group_study(workspace: Path, group: str, items: np.ndarray, listens: _Listens, n_users: int, window: int,
                 results: dict[str, dict], missing: list[str]) -> None:
    """The case-study features of one feature group into ``results`` (those not extracted into ``missing``).

    Only the few shown columns are read and averaged, by the content store's own code.
    """
    wanted = [f for f in CASE_FEATURES if f.group == group]
    try:
        _, meta = load_group(Path(workspace) / "features", group)
    except FileNotFoundError:
        missing += [f.name for f in wanted]
        return
    names = list(meta.get("names", []))
    present = [f for f in wanted if f.name in names]
    missing += [f.name for f in wanted if f.name not in names]
    if not present:
        return
    means = _store_means(workspace, group, [names.index(f.name) for f in present], listens, n_users, window)
    population = means.global_[means.has_posts].mean(axis=0) if means.has_posts.any() else \
        np.full(len(present), np.nan)
    mod = modality_of_group(group)
    for k, f in enumerate(present):
        results[f.name] = {"label": f.label, "group": group, "population_global": float(population[k]),
                           "tracks": _track_means(means, k, items, listens),
                           "posts": POSTS_COUNTED.get(mod, f"posts with {mod} only")}


def case_study(workspace: Path, dataset: Dataset, split: Split, out_dir: Path, tracks: list[str] | None = None,
               n_tracks: int = 5, window: int = DEFAULT_WINDOW_SECONDS) -> dict:
    """Compute the Fig. 3 means, draw ``out_dir/case_study.png``, return every number.

    Features whose group was not extracted are listed under ``missing`` rather than failing.
    """
    if not dataset.has_content:
        raise DataError("case study: the dataset has no posts")
    items = pick_tracks(dataset, split, tracks, n_tracks)
    listens = _chosen_listens(dataset, split, items)
    results: dict[str, dict] = {}
    missing: list[str] = []
    for group in sorted({f.group for f in CASE_FEATURES}):
        _group_study(Path(workspace), group, items, listens, dataset.n_users, window, results, missing)
    names = track_names(dataset, items)
    out = {"tracks": names, "track_idx": [int(i) for i in items], "window_seconds": int(window),
           "features": results, "missing": missing,
           "selection": "named by the user" if tracks else f"the {len(items)} most played tracks in training"}
    out_dir = Path(out_dir)
    if results:
        out["figure"] = str(plot_case_study(out, out_dir / "case_study.png"))
    write_json(out_dir / "case_study.json", out)
    return out


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
