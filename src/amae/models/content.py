"""Content for AMAE: per-modality global and contextual user vectors (DESIGN sections 5 and 6).

A modality's post vector is the concatenation of its switched-on feature groups (``text`` =
``text_h`` + ``text_d``, ``visual`` = ``visual_h`` + ``visual_d``); posts that lack the modality
(empty text, no image) are left out of its averages. :class:`ContextEncoder` owns the posts, the
per-user global cutoffs and the standardisers, and turns any ``(users, times)`` into standardised
contextual vectors with :func:`amae.features.aggregate.aggregate` (one vectorised call per batch,
restricted to the posts of the batch's users), so the same code serves training rows, validation,
test cases and serving. Standardisers are fitted on the training rows' contextual vectors only.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.features.aggregate import DEFAULT_WINDOW_SECONDS, aggregate
from amae.features.standardize import Standardizer

#: modality -> group kind -> feature group file name (``amae features`` output).
GROUPS: dict[str, dict[str, str]] = {
    "text": {"handcrafted": "text_h", "deep": "text_d"},
    "visual": {"handcrafted": "visual_h", "deep": "visual_d"},
}
#: flag column (in ``features/<modality>/flags.parquet``) marking posts without that modality.
MISSING_FLAG = {"text": "text_empty", "visual": "visual_none"}
_INT64_MIN = np.iinfo(np.int64).min


@dataclass
class PostStore:
    """The posts of one modality: dense user index, unix time, raw features ``(n_posts, D)``."""

    user: np.ndarray
    time: np.ndarray
    features: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.user)
        if self.time.shape != (n,) or self.features.ndim != 2 or self.features.shape[0] != n:
            raise ValueError(f"PostStore: user {self.user.shape}, time {self.time.shape} and features "
                             f"{self.features.shape} must describe the same posts")


def global_cutoffs(train_end: np.ndarray, global_window: str) -> np.ndarray | None:
    """``global_until`` for :func:`aggregate`: posts with ``time <= train_end[u]`` (``"train"``) or all."""
    if global_window == "all":
        return None
    if global_window != "train":
        raise ValueError(f"global_window must be 'train' or 'all', got {global_window!r}")
    end = np.asarray(train_end, dtype=np.int64)
    return np.where(end == _INT64_MIN, _INT64_MIN, end + 1)


#: content controls (DESIGN section 7): the same model and schedule with the content made uninformative
CONTROLS = ("none", "noise", "shuffle")


def noise_like(features: np.ndarray, seed: int) -> np.ndarray:
    """Seeded Gaussian noise with the shape and the per-dimension mean and std of ``features``.

    The noise control: everything downstream (aggregation, standardisation, the autoencoders) sees
    inputs of the same scale as the real posts, so any gain that survives it is capacity, not content.
    """
    x = np.asarray(features, dtype=np.float64)
    mean = x.mean(axis=0) if len(x) else np.zeros(x.shape[1])
    std = x.std(axis=0) if len(x) else np.ones(x.shape[1])
    noise = np.random.default_rng(seed).standard_normal(x.shape)
    return (noise * std + mean).astype(np.float32)


def shuffle_post_users(post_users: np.ndarray, seed: int) -> np.ndarray:
    """The shuffled control: every user's posts go to another user who has posts (times kept).

    A seeded derangement of the users that posted (a random cyclic shift of a random order, so
    nobody keeps their own posts when at least two users posted).
    """
    post_users = np.asarray(post_users, dtype=np.int64)
    owners = np.unique(post_users)
    if len(owners) < 2:
        return post_users.copy()
    order = np.random.default_rng(seed).permutation(owners)
    target = np.empty(int(owners.max()) + 1, dtype=np.int64)
    target[order] = np.roll(order, 1)
    return target[post_users]


def resolve_control(params: dict[str, Any]) -> str:
    """``control`` of a model's params (``noise_features=true`` is the older spelling of ``noise``)."""
    control = str(params.get("control", "none") or "none")
    if control not in CONTROLS:
        raise ValueError(f"control must be one of {list(CONTROLS)}, got {control!r}")
    if params.get("noise_features") and control == "none":
        control = "noise"
    return control


class ContextEncoder:
    """Standardised global and contextual vectors per modality for arbitrary ``(users, times)``.

    ``global_until`` is the per-user cutoff array (or None for all posts); the standardisers are
    fitted with :meth:`fit_standardizers` on training rows, or restored from a saved model.
    """

    def __init__(self, posts: dict[str, PostStore], n_users: int, global_until: np.ndarray | None,
                 window: int = DEFAULT_WINDOW_SECONDS,
                 standardizers: dict[str, Standardizer] | None = None, cache_size: int = 8) -> None:
        if not posts:
            raise ValueError("ContextEncoder needs at least one modality")
        self.posts = posts
        self.n_users = int(n_users)
        self.global_until = None if global_until is None else np.asarray(global_until, dtype=np.int64)
        self.window = int(window)
        self.standardizers = standardizers or {}
        self._cache: OrderedDict[bytes, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = OrderedDict()
        self._cache_size = cache_size
        self._global: dict[str, np.ndarray] | None = None
        # Posts grouped by user once, so a batch only aggregates its own users' posts.
        self._by_user: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for mod, store in posts.items():
            order = np.argsort(store.user, kind="stable")
            offsets = np.searchsorted(store.user[order], np.arange(self.n_users + 1))
            self._by_user[mod] = (order, offsets)

    @property
    def modalities(self) -> list[str]:
        return list(self.posts)

    def dims(self) -> dict[str, int]:
        return {m: int(s.features.shape[1]) for m, s in self.posts.items()}

    def raw(self, users: np.ndarray, times: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray],
                                                                 dict[str, np.ndarray]]:
        """Unstandardised (global per case, contextual per case, context-empty flag) per modality."""
        users = np.asarray(users, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        uq, inv = np.unique(users, return_inverse=True)
        g_out, c_out, e_out = {}, {}, {}
        for mod, store in self.posts.items():
            order, offsets = self._by_user[mod]
            lo, hi = offsets[uq], offsets[uq + 1]
            lens = hi - lo
            sel = order[np.repeat(lo - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))]
            sub_user = np.repeat(np.arange(len(uq)), lens)
            until = None if self.global_until is None else self.global_until[uq]
            agg = aggregate(sub_user, store.time[sel], np.asarray(store.features[sel]), inv, times,
                            len(uq), global_until=until, window=self.window)
            g_out[mod] = agg.global_[inv]
            c_out[mod] = agg.contextual
            e_out[mod] = agg.context_empty
        return g_out, c_out, e_out

    def fit_standardizers(self, users: np.ndarray, times: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                               dict[str, np.ndarray]]:
        """Fit one standardiser per modality on these (training) rows' contextual vectors.

        Returns the standardised contextual matrices of those rows (training needs them anyway)
        and their empty-window flags.
        """
        _, ctx, empty = self.raw(users, times)
        out = {}
        for mod, x in ctx.items():
            self.standardizers[mod] = Standardizer().fit(x)
            out[mod] = self.standardizers[mod].transform(x)
        self._global = None
        self._cache.clear()
        return out, empty

    def global_matrix(self) -> dict[str, np.ndarray]:
        """Standardised ``(n_users, D)`` global vectors per modality (computed once)."""
        if self._global is None:
            self._global = {}
            for mod, store in self.posts.items():
                agg = aggregate(store.user, store.time, store.features, np.zeros(0, np.int64),
                                np.zeros(0, np.int64), self.n_users, global_until=self.global_until,
                                window=self.window)
                self._global[mod] = self._std(mod, agg.global_)
        return self._global

    def contextual(self, users: np.ndarray, times: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                        dict[str, np.ndarray]]:
        """Standardised contextual vectors ``(n, D)`` and empty-window flags per modality.

        Repeated calls with the same arrays (validation every epoch) are served from a small cache.
        """
        users = np.asarray(users, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        key = hashlib.blake2b(users.tobytes() + b"|" + times.tobytes(), digest_size=16).digest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        _, ctx, empty = self.raw(users, times)
        result = ({m: self._std(m, x) for m, x in ctx.items()}, empty)
        self._cache[key] = result
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    def _std(self, mod: str, x: np.ndarray) -> np.ndarray:
        if mod not in self.standardizers:
            raise RuntimeError(f"ContextEncoder: no standardiser for modality '{mod}' (fit on training rows first)")
        return self.standardizers[mod].transform(x)


@dataclass
class Content:
    """What ``prepare_content`` hands to the AMAE models through ``TrainData.content``.

    ``contextual[mod]`` rows align with ``rows`` (interaction-table rows, the fit records);
    ``source`` says how to re-create the posts after ``load()`` (workspace path, groups, noise).
    """

    encoder: ContextEncoder
    rows: np.ndarray
    contextual: dict[str, np.ndarray]
    context_empty: dict[str, np.ndarray]
    source: dict[str, Any] = field(default_factory=dict)

    def for_records(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Contextual matrices aligned to the given interaction rows (the fit arrays' order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if np.array_equal(rows, self.rows):
            return self.contextual
        order = np.argsort(self.rows, kind="stable")
        pos = np.searchsorted(self.rows[order], rows)
        pos = np.clip(pos, 0, len(order) - 1)
        if not np.array_equal(self.rows[order][pos], rows):
            missing = rows[self.rows[order][pos] != rows]
            raise ValueError(f"content has no contextual vector for interaction row {int(missing[0])} "
                             f"({len(missing)} rows missing)")
        return {m: x[order[pos]] for m, x in self.contextual.items()}


def select_groups(modalities: list[str], groups: list[str]) -> dict[str, list[str]]:
    """Feature group files per modality for the Table III switches."""
    bad_m = [m for m in modalities if m not in GROUPS]
    bad_g = [g for g in groups if g not in ("handcrafted", "deep")]
    if bad_m or bad_g or not modalities or not groups:
        raise ValueError(f"modalities must be a non-empty subset of {sorted(GROUPS)} and groups of "
                         f"['deep', 'handcrafted']; got modalities={modalities}, groups={groups}")
    return {m: [GROUPS[m][g] for g in ("handcrafted", "deep") if g in groups] for m in modalities}


def usable_posts(workspace: Path) -> dict[str, int]:
    """Per modality whose features were extracted, the number of posts that carry it (text, media).

    A modality with 0 here has no data: models leave it out instead of training on zeros.
    """
    out: dict[str, int] = {}
    for mod, col in MISSING_FLAG.items():
        flags_path = Path(workspace) / "features" / mod / "flags.parquet"
        if not flags_path.exists():
            continue
        flags = pd.read_parquet(flags_path)
        out[mod] = int(len(flags) - flags[col].sum()) if col in flags.columns else int(len(flags))
    return out


ABSENT_REASON = {"text": "no post has text", "visual": "no post has usable media (images or video frames)"}


def load_posts(workspace: Path, modalities: dict[str, list[str]], noise_features: bool = False,
               noise_seed: int = 0, control: str | None = None) -> dict[str, PostStore]:
    """Post features of the workspace per modality: groups concatenated, posts lacking it dropped.

    ``control`` (``noise`` or ``shuffle``, see :data:`CONTROLS`) makes the content uninformative
    in a seeded way (``noise_seed``); ``noise_features=True`` is the same as ``control="noise"``.
    A modality with no usable post is absent from the result.
    """
    from amae.features.extract import load_group

    control = control or ("noise" if noise_features else "none")
    workspace = Path(workspace)
    meta = pd.read_parquet(workspace / "data" / "posts.parquet", columns=["post_idx", "user_idx", "timestamp"])
    meta = meta.sort_values("post_idx")
    if control == "shuffle":
        meta["user_idx"] = shuffle_post_users(meta["user_idx"].to_numpy(np.int64), noise_seed)
    post_idx = meta["post_idx"].to_numpy(np.int64)
    out: dict[str, PostStore] = {}
    for mod, names in modalities.items():
        blocks = []
        for name in names:
            arr, _ = load_group(workspace / "features", name)
            if arr.shape[0] <= post_idx.max(initial=-1):
                raise ValueError(f"{workspace}/features: group '{name}' has {arr.shape[0]} rows but posts go up "
                                 f"to post_idx {int(post_idx.max())} (re-run 'amae features')")
            blocks.append(np.asarray(arr[post_idx], dtype=np.float32))
        feats = np.concatenate(blocks, axis=1)
        keep = np.ones(len(post_idx), dtype=bool)
        flags_path = workspace / "features" / mod / "flags.parquet"
        if flags_path.exists():
            flags = pd.read_parquet(flags_path)
            col = MISSING_FLAG[mod]
            if col in flags.columns:
                missing = flags.set_index("post_idx")[col].reindex(post_idx, fill_value=True).to_numpy(bool)
                keep &= ~missing
        keep &= np.isfinite(feats).all(axis=1)  # a broken row is skipped, not allowed to poison the means
        feats = feats[keep]
        if not keep.any():
            continue  # a modality without data is absent, not a block of zeros
        if control == "noise":
            feats = noise_like(feats, noise_seed + len(out))
        out[mod] = PostStore(meta["user_idx"].to_numpy(np.int64)[keep], meta["timestamp"].to_numpy(np.int64)[keep],
                             feats)
    return out


def build_content(posts: dict[str, PostStore], n_users: int, fit_users: np.ndarray, fit_times: np.ndarray,
                  fit_rows: np.ndarray, train_end: np.ndarray, *, window: int = DEFAULT_WINDOW_SECONDS,
                  global_window: str = "train", source: dict[str, Any] | None = None) -> Content:
    """Encoder + standardised contextual vectors of the fit rows (standardisers fitted on them)."""
    encoder = ContextEncoder(posts, n_users, global_cutoffs(train_end, global_window), window)
    contextual, empty = encoder.fit_standardizers(fit_users, fit_times)
    return Content(encoder, np.asarray(fit_rows, dtype=np.int64), contextual, empty, dict(source or {}))
