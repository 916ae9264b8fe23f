"""Content for AMAE: per-modality global and contextual user vectors (docs/design.md sections 5, 6.4 and 10).

A modality's post vector is the concatenation of its switched-on feature groups (``text`` =
``text_h`` + ``text_d``, ``visual`` = ``visual_h`` + ``visual_d``); posts that lack the modality
(empty text, no image) are left out of its averages. :func:`load_posts` builds the content store
(:mod:`amae.content.store`: posts sorted by (user, time), features memory-mapped) once per
workspace, feature set and control; :class:`ContextEncoder` reads it by range and turns any
``(users, times)`` into standardised contextual vectors, so the same code serves training records,
validation, test cases and serving without a per-record matrix. Standardisers are fitted on the
training records' contextual vectors only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from amae.content.kinds import UserContent, register_content
from amae.content.standardize import Standardizer
from amae.content.store import (
    CONTROLS,
    DEFAULT_WINDOW_SECONDS,
    STORE_FORMAT,
    STREAM_ROWS,
    FixedPCA,
    ModalityPosts,
    Projected,
    fill_noise,
    finite_rows,
    gather_rows,
    open_modality,
    release_pages,
    shuffle_post_users,
    write_modality,
)
from amae.data.io import DataError, read_json, write_json
from amae.data.provenance import Manifest, check, read_manifest, seal, short, upstream
from amae.features.modalities import GROUP_KINDS, POST_MODALITIES, modality_of_group
from amae.protocol.split import in_training_period, training_until

_INT64_MIN = np.iinfo(np.int64).min
__all__ = ["CONTROLS", "DEFAULT_WINDOW_SECONDS", "ContextEncoder", "ModalityPosts", "PostContent", "fill_noise",
           "group_columns", "load_posts", "noise_like", "reopen_posts", "shuffle_post_users"]


def global_cutoffs(train_end: np.ndarray, global_window: str) -> np.ndarray | None:
    """``global_until`` of the global vectors: the training-period cutoff (``"train"``) or None (``"all"``)."""
    if global_window == "all":
        return None
    if global_window != "train":
        raise ValueError(f"global_window must be 'train' or 'all', got {global_window!r}")
    return training_until(train_end)


def noise_like(features: np.ndarray, seed: int) -> np.ndarray:
    """Seeded Gaussian noise with the shape and per-column mean and std of ``features`` (see :func:`fill_noise`)."""
    out = np.array(features, dtype=np.float32)
    fill_noise(out, seed)
    return out


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

    Reads the content store (:class:`~amae.content.store.ModalityPosts`, one per modality) by
    range: a batch costs the posts in its windows, whatever the number of records or posts, and
    nothing is cached per record, so concurrent readers (serving) need no lock. ``global_until``
    is the per-user cutoff array (or None for all posts); the global vectors are computed once
    here. Standardisers are fitted with :meth:`fit_standardizers` on the training records'
    contextual vectors, or restored from a saved model.
    """

    def __init__(self, posts: dict[str, ModalityPosts], n_users: int, global_until: np.ndarray | None,
                 window: int = DEFAULT_WINDOW_SECONDS, standardizers: dict[str, Standardizer] | None = None,
                 raw_global: dict[str, np.ndarray] | None = None) -> None:
        if not posts:
            raise ValueError("ContextEncoder needs at least one modality")
        self.posts = posts
        self.n_users = int(n_users)
        self.global_until = None if global_until is None else np.asarray(global_until, dtype=np.int64)
        self.window = int(window)
        self.standardizers = dict(standardizers or {})
        self.raw_global = raw_global if raw_global is not None else {
            m: store.user_means(self.n_users, self.global_until)[0] for m, store in posts.items()}
        self._global: dict[str, np.ndarray] | None = None
        self._z: dict[str, tuple[Standardizer, np.ndarray, np.ndarray]] = {}  # float32 moments per modality

    @property
    def modalities(self) -> list[str]:
        return list(self.posts)

    def dims(self) -> dict[str, int]:
        return {m: s.dim for m, s in self.posts.items()}

    def raw_contextual(self, mod: str, users: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Unstandardised contextual vectors of one modality (the global vector where the window is
        empty, the paper's padding) and the empty-window flags."""
        lo, hi = self.posts[mod].window(users, times, self.window)
        return self.raw_from_ranges(mod, users, lo, hi)

    def raw_from_ranges(self, mod: str, users: np.ndarray, lo: np.ndarray, hi: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`raw_contextual` for windows already found (``[lo, hi)`` into the modality's posts)."""
        users = np.asarray(users, dtype=np.int64)
        out = self.posts[mod].range_means(lo, hi)
        empty = hi <= lo
        out[empty] = self.raw_global[mod][users[empty]]
        return out, empty

    def windows(self, users: np.ndarray, times: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per modality the ``[lo, hi)`` post range of each case's window (two int arrays, no features)."""
        return {m: store.window(users, times, self.window) for m, store in self.posts.items()}

    def window_rows(self, ranges: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per modality the cases whose window holds posts and their standardised means.

        Every other case's contextual vector is its global vector (the paper's padding), which a
        model already holds (:meth:`global_matrix`), so it is neither copied nor standardised
        again here, and a model encodes it once: in the demo world 88% of the visual windows of
        the fit records are empty. ``ranges`` are those of :meth:`windows`; returns
        ``(index int64 (k,), rows float32 (k, D))``.
        """
        out = {}
        for m, (lo, hi) in ranges.items():
            full = np.flatnonzero(hi > lo)
            out[m] = (full, self._std(m, self.posts[m].range_means(lo[full], hi[full])))
        return out

    def fit_standardizers(self, users: np.ndarray, times: np.ndarray) -> None:
        """Fit one standardiser per modality on these (training) records' contextual vectors.

        Streams over the records in chunks (:class:`_ContextRows`), so it never holds a
        contextual matrix of all records.
        """
        users = np.asarray(users, dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        for mod in self.posts:
            self.standardizers[mod] = Standardizer().fit(_ContextRows(self, mod, users, times))
        self._global = None

    def global_matrix(self) -> dict[str, np.ndarray]:
        """Standardised ``(n_users, D)`` global vectors per modality (computed once)."""
        if self._global is None:
            self._global = {m: self._std(m, g) for m, g in self.raw_global.items()}
        return self._global

    def contextual(self, users: np.ndarray, times: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                        dict[str, np.ndarray]]:
        """Standardised contextual vectors ``(n, D)`` and empty-window flags per modality."""
        ctx, empty = {}, {}
        for mod in self.posts:
            raw, empty[mod] = self.raw_contextual(mod, users, times)
            ctx[mod] = self._std(mod, raw)
        return ctx, empty

    def context_counts(self, user: int, time: int) -> dict[str, int]:
        """Posts per modality of ``user`` in ``[time - window, time)``: two binary searches each."""
        out = {}
        for mod, store in self.posts.items():
            lo, hi = store.window(np.asarray([user]), np.asarray([time]), self.window)
            out[mod] = int(hi[0] - lo[0])
        return out

    def for_user(self, user: int, extra_times: dict[str, np.ndarray], extra_features: dict[str, np.ndarray],
                 at: int | None = None) -> ContextEncoder:
        """A copy holding only ``user``'s stored posts plus a request's posts.

        With ``at`` (the request time) only the stored posts of the window before it are copied, so
        a request costs O(posts in its window), not O(the user's posts). Shares the standardisers
        and the global vectors (read-only): request posts change the contextual window, not the
        training-period global vector.
        """
        since = None if at is None else at - self.window
        posts = {m: store.for_user(user, extra_times.get(m, np.zeros(0, np.int64)),
                                   extra_features.get(m, np.zeros((0, store.dim), np.float32)), since, at)
                 for m, store in self.posts.items()}
        copy = ContextEncoder(posts, self.n_users, self.global_until, self.window, self.standardizers,
                              raw_global=self.raw_global)
        copy._global = self._global
        return copy

    def _std(self, mod: str, x: np.ndarray) -> np.ndarray:
        """z-scores in float32 (the hot path of every batch; the moments were fitted in float64)."""
        if mod not in self.standardizers:
            raise RuntimeError(f"ContextEncoder: no standardiser for modality '{mod}' (fit on training rows first)")
        std = self.standardizers[mod]
        if self._z.get(mod, (None,))[0] is not std:
            mean, scale = std.mean, std.std
            if mean is None or scale is None:
                raise RuntimeError(f"ContextEncoder: the standardiser of '{mod}' is not fitted")
            self._z[mod] = (std, mean.astype(np.float32), (1.0 / scale).astype(np.float32))
        _, mean32, inv32 = self._z[mod]
        out = np.subtract(x, mean32, dtype=np.float32)
        out *= inv32
        return out


class _ContextRows:
    """A read-only ``(n_records, D)`` view of records' raw contextual vectors, computed per slice.

    What :meth:`Standardizer.fit` streams over: it asks for row chunks only.
    """

    ndim = 2

    def __init__(self, encoder: ContextEncoder, mod: str, users: np.ndarray, times: np.ndarray) -> None:
        self.encoder, self.mod, self.users, self.times = encoder, mod, users, times
        self.shape = (len(users), encoder.posts[mod].dim)

    #: records read between releases of the mapped pages (fault-around maps far more than the rows read)
    RELEASE_RECORDS = 1024

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        users, times = self.users[rows], self.times[rows]
        out = np.empty((len(users), self.shape[1]), dtype=np.float32)
        for a in range(0, len(users), self.RELEASE_RECORDS):  # a bulk pass: keep resident memory flat
            b = a + self.RELEASE_RECORDS
            out[a:b] = self.encoder.raw_contextual(self.mod, users[a:b], times[a:b])[0]
            release_pages(self.encoder.posts[self.mod].features)
        return out


@register_content
@dataclass
class PostContent(UserContent):
    """The ``posts`` kind (AMAE): the content store read through a :class:`ContextEncoder`.

    ``encoder`` reads the store (standardisers fitted on the fit records); ``source`` says how to
    re-open the store after a saved model is loaded (workspace path, groups, control) and which
    requested modalities were left out for lack of data.
    """

    kind: ClassVar[str] = "posts"
    encoder: ContextEncoder
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, workspace: Path, dataset: Any, split: Any, *, modalities: list[str], groups: list[str],
              control: str = "none", noise_seed: int = 0, window: int = DEFAULT_WINDOW_SECONDS,
              global_window: str = "train", pca_dim: int = 0) -> PostContent:
        """Open the store of the switched-on groups, fit the standardisers on the fit records.

        A requested feature group that was never extracted is an error naming the command that
        makes it; a modality whose posts carry no data (no post with usable media, say) is left
        out, and ``source["absent_modalities"]`` says why.
        """
        from amae.features.extract import available_groups

        wanted = select_groups(modalities, groups)
        have = set(available_groups(Path(workspace) / "features"))
        for m, gs in wanted.items():
            for g in gs:
                if g not in have:
                    raise DataError(f"{workspace}/features: feature group '{g}' is missing (run 'amae features "
                                    f"{workspace} --modality {m}', or leave {m} out with -p modalities=...)")
        options = StoreOptions(control, int(noise_seed), "float32", int(pca_dim), split.train_end if pca_dim else None)
        folder = store_folder(Path(workspace), wanted, options)
        posts = open_store(folder, wanted)
        absent = {m: POST_MODALITIES[m].absent_reason for m in wanted if m not in posts}
        if not posts:
            raise DataError(f"{workspace}: no post carries any of the modalities {sorted(wanted)} "
                            f"({'; '.join(f'{m}: {r}' for m, r in absent.items())})")
        kept = {m: g for m, g in wanted.items() if m in posts}
        source = {"workspace": str(Path(workspace).resolve()), "groups": kept, "absent_modalities": absent,
                  "control": control, "noise_seed": int(noise_seed), "pca_dim": int(pca_dim),
                  "store": str(folder.resolve())}
        inter = dataset.interactions
        rows = np.asarray(split.fit_rows, dtype=np.int64)
        return build_content(posts, dataset.n_users, inter["user_idx"].to_numpy(np.int64)[rows],
                             inter["timestamp"].to_numpy(np.int64)[rows], split.train_end, window=int(window),
                             global_window=str(global_window), source=source)


def relocate_source(source: dict[str, Any], model_folder: Path) -> dict[str, Any]:
    """``source`` read from the workspace the saved model sits in now (``WS/models/<cell>``).

    A saved model names the workspace and store it was trained from; a workspace that was copied
    or moved must read (and, when needed, rebuild its store in) itself, never the original. A model
    folder outside any workspace keeps the recorded paths.
    """
    home = Path(model_folder).resolve().parent.parent
    if not source.get("workspace") or not (home / "data" / "interactions.parquet").exists():
        return source
    old = Path(source["workspace"])
    moved = {**source, "workspace": str(home)}
    store = Path(source.get("store", ""))
    if source.get("store") and store.is_relative_to(old):
        moved["store"] = str(home / store.relative_to(old))
    return moved


def reopen_posts(source: dict[str, Any]) -> dict[str, ModalityPosts]:
    """The store a saved model was trained on, from its ``source`` (empty when the workspace is gone)."""
    if not source.get("workspace") or not Path(source["workspace"]).exists():
        return {}
    store = Path(source.get("store", ""))
    if source.get("pca_dim"):  # a reduced store depends on the split: reopen exactly the one trained on
        if not (store / "modalities.json").exists() or read_manifest(store) is None:
            raise DataError(f"{store}: the reduced content store this model was trained on is gone "
                            "(train the model again)")
        return open_store(store, source["groups"])
    control = source.get("control") or ("noise" if source.get("noise_features") else "none")
    return load_posts(Path(source["workspace"]), source["groups"], control=control,
                      noise_seed=int(source.get("noise_seed", 0)))


def select_groups(modalities: list[str], groups: list[str]) -> dict[str, list[str]]:
    """Feature group files per modality for the Table III switches."""
    bad_m = [m for m in modalities if m not in POST_MODALITIES]
    bad_g = [g for g in groups if g not in GROUP_KINDS]
    if bad_m or bad_g or not modalities or not groups:
        raise ValueError(f"modalities must be a non-empty subset of {sorted(POST_MODALITIES)} and groups of "
                         f"{sorted(GROUP_KINDS)}; got modalities={modalities}, groups={groups}")
    return {m: POST_MODALITIES[m].group_files(groups) for m in modalities}


def usable_posts(workspace: Path) -> dict[str, int]:
    """Per modality whose features were extracted, the number of posts that carry it (text, media).

    A modality with 0 here has no data: models leave it out instead of training on zeros.
    """
    out: dict[str, int] = {}
    for mod, spec in POST_MODALITIES.items():
        flags_path = Path(workspace) / "features" / mod / "flags.parquet"
        if not flags_path.exists():
            continue
        flags = pd.read_parquet(flags_path)
        col = spec.missing_flag
        out[mod] = int(len(flags) - flags[col].sum()) if col in flags.columns else int(len(flags))
    return out


@dataclass(frozen=True)
class StoreOptions:
    """How a content store is made beyond its inputs: the control, the dtype, the reduction.

    ``pca_dim`` > 0 projects each *deep* group to that many dimensions with a :class:`FixedPCA`
    fitted on training-period posts (``train_end`` per user, so the store then depends on the
    split) **[choice]**, off (0) by default: at small scale the full features fit and nothing is
    lost; at the paper's counts it is what fits on one disk (docs/design.md sections 5.5 and 10).
    """

    control: str = "none"
    noise_seed: int = 0
    dtype: str = "float32"
    pca_dim: int = 0
    train_end: np.ndarray | None = field(default=None, compare=False, repr=False)

    def config(self) -> dict[str, Any]:
        """The manifest's view: every choice that shapes the stored numbers."""
        seed = self.noise_seed if self.control != "none" else None
        out: dict[str, Any] = {"control": self.control, "noise_seed": seed, "dtype": self.dtype,
                               "pca_dim": self.pca_dim}
        if self.pca_dim > 0:
            if self.train_end is None:
                raise ValueError("pca_dim needs the split's train_end (the reduction is fitted on training posts)")
            ends = np.asarray(self.train_end, np.int64).tobytes()
            out["train_end"] = hashlib.blake2b(ends, digest_size=16).hexdigest()
        return out


def store_manifest(workspace: Path, modalities: dict[str, list[str]], options: StoreOptions) -> Manifest:
    """What a content store is made from: the posts, the feature groups, and :class:`StoreOptions`."""
    ws = Path(workspace)
    inputs = {"data": upstream(ws / "data"), **{f"features/{m}": upstream(ws / "features" / m) for m in modalities}}
    return Manifest("content", inputs, {"groups": modalities, **options.config()}, {"store_format": STORE_FORMAT})


def load_posts(workspace: Path, modalities: dict[str, list[str]], noise_features: bool = False,
               noise_seed: int = 0, control: str | None = None, dtype: str = "float32", pca_dim: int = 0,
               train_end: np.ndarray | None = None) -> dict[str, ModalityPosts]:
    """The workspace's content store per modality: groups concatenated, posts lacking it dropped.

    Built once into ``workspace/content/<digest>/`` and reused while its manifest (the posts, the
    feature groups, the options) is unchanged; features are memory-mapped from there. ``control``
    (``noise`` or ``shuffle``, see :data:`CONTROLS`) makes the content uninformative in a seeded
    way (``noise_seed``); ``noise_features=True`` is the same as ``control="noise"``; ``pca_dim``
    reduces the deep groups (see :class:`StoreOptions`). A modality with no usable post is absent.
    """
    options = StoreOptions(control or ("noise" if noise_features else "none"), int(noise_seed), dtype, int(pca_dim),
                           train_end)
    return open_store(store_folder(workspace, modalities, options), modalities)


def store_folder(workspace: Path, modalities: dict[str, list[str]], options: StoreOptions) -> Path:
    """The store's folder, built first when no complete store of the same manifest exists."""
    manifest = store_manifest(workspace, modalities, options)
    folder = Path(workspace) / "content" / short(manifest.digest(), 12)
    if check(folder, manifest):
        _build_store(Path(workspace), folder, manifest, modalities, options)
    return folder


def open_store(folder: Path, modalities: dict[str, list[str]] | list[str]) -> dict[str, ModalityPosts]:
    """The modalities of a complete store folder, memory-mapped."""
    present = read_json(Path(folder) / "modalities.json")["present"]
    return {m: open_modality(Path(folder), m) for m in modalities if m in present}


def _build_store(workspace: Path, folder: Path, manifest: Manifest, modalities: dict[str, list[str]],
                 options: StoreOptions) -> None:
    """Write the store into a fresh temporary folder, seal it, then move it into place (atomic)."""
    meta = pd.read_parquet(workspace / "data" / "posts.parquet", columns=["post_idx", "user_idx", "timestamp"])
    meta = meta.sort_values("post_idx")
    post_idx = meta["post_idx"].to_numpy(np.int64)
    user = meta["user_idx"].to_numpy(np.int64)
    if options.control == "shuffle":
        user = shuffle_post_users(user, options.noise_seed)
    time = meta["timestamp"].to_numpy(np.int64)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        present: list[str] = []
        reductions: dict[str, float] = {}
        for mod, names in modalities.items():
            blocks = _group_blocks(workspace, names, post_idx)
            keep = _kept_posts(workspace, mod, blocks, post_idx)
            if not keep.any():
                continue  # a modality without data is absent, not a block of zeros
            if options.pca_dim > 0:
                blocks = _reduced(mod, names, blocks, post_idx[keep], user[keep], time[keep], options, reductions)
            seed = options.noise_seed + len(present) if options.control == "noise" else None
            write_modality(tmp, mod, user[keep], time[keep], blocks, post_idx[keep], dtype=options.dtype,
                           noise_seed=seed)
            present.append(mod)
        write_json(tmp / "modalities.json", {"present": present, "explained_variance": reductions})
        seal(tmp, manifest)
        if check(folder, manifest):  # an unfinished or damaged store of the same name (another worker may
            shutil.rmtree(folder, ignore_errors=True)  # have just published a good one: that one is kept)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished the same store first: theirs is as good
            if check(folder, manifest):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _reduced(mod: str, names: list[str], blocks: list[np.ndarray], rows: np.ndarray, user: np.ndarray,
             time: np.ndarray, options: StoreOptions, explained: dict[str, float]) -> list[Any]:
    """The deep group of ``mod`` seen through a PCA fitted on its training-period posts (others as they are)."""
    deep = POST_MODALITIES[mod].groups.get("deep")
    assert options.train_end is not None
    training = rows[in_training_period(user, time, options.train_end)]
    out: list[Any] = []
    for name, block in zip(names, blocks, strict=True):
        if name == deep and block.shape[1] > options.pca_dim and len(training):
            pca = FixedPCA.fit(block, training, options.pca_dim)
            explained[name] = pca.explained
            out.append(Projected(block, pca))
        else:
            out.append(block)
    return out


def _group_blocks(workspace: Path, names: list[str], post_idx: np.ndarray) -> list[np.ndarray]:
    """The memory-mapped feature groups of one modality, checked to cover every post."""
    from amae.features.extract import load_group

    blocks = []
    for name in names:
        arr, _ = load_group(workspace / "features", name)
        if arr.shape[0] <= post_idx.max(initial=-1):
            raise DataError(f"{workspace}/features: group '{name}' has {arr.shape[0]} rows but posts go up "
                            f"to post_idx {int(post_idx.max())} (re-run 'amae features')")
        blocks.append(arr)
    return blocks


def _kept_posts(workspace: Path, mod: str, blocks: list[np.ndarray], post_idx: np.ndarray) -> np.ndarray:
    """Which posts a modality averages: those not flagged as lacking it, finite in every block.

    The one rule of which posts count, shared by the store (:func:`_build_store`) and the case
    study's columns (:func:`group_columns`), so both average the same posts.
    """
    keep = ~_missing(workspace, mod, post_idx)
    keep[keep] &= finite_rows(blocks, post_idx[keep])
    return keep


def group_columns(workspace: Path, group: str, columns: list[int]) -> ModalityPosts:
    """A few columns of one feature group over the posts the store keeps for its modality, sorted
    by (user, time) in memory (empty when no post carries the modality).

    Why: the case study (docs/design.md section 8.1) shows six interpretable columns. Reading them
    through the store's selection (:func:`_kept_posts`) and sort means its global and contextual
    means are the models' own (:class:`ContextEncoder`), without writing a store of whole groups to
    disk; the rows are read in chunks, so only the chosen columns are ever held for all posts.
    """
    ws = Path(workspace)
    meta = pd.read_parquet(ws / "data" / "posts.parquet", columns=["post_idx", "user_idx", "timestamp"])
    meta = meta.sort_values("post_idx")
    post_idx = meta["post_idx"].to_numpy(np.int64)
    blocks = _group_blocks(ws, [group], post_idx)
    keep = _kept_posts(ws, modality_of_group(group), blocks, post_idx)
    rows = post_idx[keep]
    cols = np.asarray(columns, dtype=np.int64)
    x = np.empty((len(rows), len(cols)), dtype=np.float32)
    for a in range(0, len(rows), STREAM_ROWS):
        x[a : a + STREAM_ROWS] = gather_rows(blocks[0], rows[a : a + STREAM_ROWS])[:, cols]
    return ModalityPosts.from_posts(meta["user_idx"].to_numpy(np.int64)[keep],
                                    meta["timestamp"].to_numpy(np.int64)[keep], x)


def _missing(workspace: Path, mod: str, post_idx: np.ndarray) -> np.ndarray:
    """Posts flagged as lacking the modality (no text, no usable media)."""
    flags_path = workspace / "features" / mod / "flags.parquet"
    if not flags_path.exists():
        return np.zeros(len(post_idx), dtype=bool)
    flags = pd.read_parquet(flags_path)
    col = POST_MODALITIES[mod].missing_flag
    if col not in flags.columns:
        return np.zeros(len(post_idx), dtype=bool)
    return flags.set_index("post_idx")[col].reindex(post_idx, fill_value=True).to_numpy(bool)


def build_content(posts: dict[str, ModalityPosts], n_users: int, fit_users: np.ndarray, fit_times: np.ndarray,
                  train_end: np.ndarray, *, window: int = DEFAULT_WINDOW_SECONDS,
                  global_window: str = "train", source: dict[str, Any] | None = None) -> PostContent:
    """Encoder over the store with its standardisers fitted on the fit records' contextual vectors."""
    encoder = ContextEncoder(posts, n_users, global_cutoffs(train_end, global_window), window)
    encoder.fit_standardizers(fit_users, fit_times)
    return PostContent(encoder, dict(source or {}))
