"""The content store: each modality's post features sorted by (user, time), read by range.

Why this shape (docs/design.md sections 5.4, 10): at the paper's scale (45M posts, 17.8M interactions) a dense
contextual vector per interaction does not fit in memory, and re-aggregating every post of a
batch's users per scoring batch is quadratic in practice. Here a modality's posts are sorted once
by the composite key ``user << 33 | time`` (unix seconds of 1970-2100 fit in 33 bits), so

* a record's contextual window ``[t - window, t)`` is a range ``[lo, hi)`` found by two binary
  searches, and a batch's contextual means are one gather of the posts in its windows;
* a user's posts are one contiguous slice (serving copies only those, never scans all posts);
* the global vector (posts before each user's training cutoff) is one streaming pass.

Features are float32 or float16, in RAM or memory-mapped from ``.npy`` files; only the rows a
batch needs are read. Nothing here holds a per-record matrix.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from amae.data.ranges import expand_ranges

#: The paper's contextual window (docs/design.md section 5.2): the 24 hours before the interaction.
DEFAULT_WINDOW_SECONDS = 24 * 3600
#: bits of the time part of the composite key (unix seconds up to 2^33 - 1, past the year 2200)
TIME_BITS = 33
_TIME_MASK = np.int64((1 << TIME_BITS) - 1)
#: posts gathered at once when averaging windows (bounds the float32 temporaries)
GATHER_ROWS = 1 << 18
#: posts read at once by the streaming passes (global means, sorting into the store)
STREAM_ROWS = 1 << 20


def post_keys(user: np.ndarray, time: np.ndarray) -> np.ndarray:
    """The composite sort key ``user << 33 | time`` (times clipped to the representable range)."""
    t = np.clip(np.asarray(time, dtype=np.int64), 0, int(_TIME_MASK))
    return (np.asarray(user, dtype=np.int64) << TIME_BITS) | t


@dataclass
class ModalityPosts:
    """One modality's posts sorted by ``keys`` (``user << 33 | time``) with their ``(n, D)`` features."""

    keys: np.ndarray
    features: np.ndarray

    def __post_init__(self) -> None:
        if self.features.ndim != 2 or self.features.shape[0] != self.keys.shape[0]:
            raise ValueError(f"ModalityPosts: {self.keys.shape[0]} keys but features of shape {self.features.shape}")

    @classmethod
    def from_posts(cls, user: np.ndarray, time: np.ndarray, features: np.ndarray) -> ModalityPosts:
        """Sort unsorted posts in memory (small worlds, serving copies, tests)."""
        keys = post_keys(user, time)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], np.ascontiguousarray(np.asarray(features)[order], dtype=np.float32))

    @property
    def n_posts(self) -> int:
        return int(self.keys.shape[0])

    @property
    def dim(self) -> int:
        return int(self.features.shape[1])

    @property
    def user(self) -> np.ndarray:
        return self.keys >> TIME_BITS

    @property
    def time(self) -> np.ndarray:
        return self.keys & _TIME_MASK

    def position(self, users: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Index of the first post of each user at or after each time (the end of the user's run if none)."""
        return np.searchsorted(self.keys, post_keys(users, times), side="left")

    def user_range(self, users: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)`` of each user's posts."""
        users = np.asarray(users, dtype=np.int64)
        return (np.searchsorted(self.keys, users << TIME_BITS, side="left"),
                np.searchsorted(self.keys, (users + 1) << TIME_BITS, side="left"))

    def window(self, users: np.ndarray, times: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
        """``[lo, hi)`` of each case's posts with ``t - window <= time < t``."""
        times = np.asarray(times, dtype=np.int64)
        return self.position(users, times - int(window)), self.position(users, times)

    def range_means(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """float32 ``(n, D)`` mean of rows ``[lo, hi)`` per case (zeros where the range is empty).

        Gathers in chunks of about :data:`GATHER_ROWS` posts, so a large batch of long windows
        never materialises all its posts at once.
        """
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        out = np.zeros((len(lo), self.dim), dtype=np.float32)
        lens = np.maximum(hi - lo, 0)
        ends = np.cumsum(lens)
        a = 0
        while a < len(lo):
            # the next chunk of cases holds about GATHER_ROWS posts (at least one case)
            b = max(a + 1, int(np.searchsorted(ends, (ends[a - 1] if a else 0) + GATHER_ROWS, side="right")))
            b = min(b, len(lo))
            full = np.flatnonzero(lens[a:b]) + a
            if len(full):
                index, owner = expand_ranges(lo[full], hi[full])
                rows = torch.from_numpy(np.asarray(self.features[index], dtype=np.float32))
                # index_add_ sums the runs in order, 8x faster than np.add.reduceat on (rows, D)
                # (a training batch's ~200 rows of 285 dims: 26 us against 217 us)
                sums = torch.zeros((len(full), self.dim)).index_add_(0, torch.from_numpy(owner), rows).numpy()
                out[full] = sums / lens[full, None].astype(np.float32)
            a = b
        return out

    def user_means(self, n_users: int, until: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Per user the float32 mean of posts with ``time < until[user]`` (all if None), and the counts.

        One streaming pass of :data:`STREAM_ROWS` posts at a time: posts are sorted by user, so each
        chunk's qualifying posts form runs that ``np.add.reduceat`` sums.
        """
        sums = np.zeros((n_users, self.dim), dtype=np.float64)
        counts = np.zeros(n_users, dtype=np.int64)
        for a in range(0, self.n_posts, STREAM_ROWS):
            keys = self.keys[a : a + STREAM_ROWS]
            user = keys >> TIME_BITS
            keep = np.ones(len(keys), bool) if until is None else (keys & _TIME_MASK) < until[user]
            if not keep.any():
                continue
            user = user[keep]
            rows = read_rows(self.features, a, a + STREAM_ROWS)[keep].astype(np.float64)
            starts = np.flatnonzero(np.r_[True, user[1:] != user[:-1]])
            sums[user[starts]] += np.add.reduceat(rows, starts, axis=0)
            counts[user[starts]] += np.diff(np.r_[starts, len(user)])
        means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        return means, counts

    def for_user(self, user: int, extra_time: np.ndarray, extra_features: np.ndarray,
                 since: int | None = None, until: int | None = None) -> ModalityPosts:
        """Only ``user``'s posts (those in ``[since, until)`` when given) plus extra ones (a serving
        request): two binary searches and a copy of the posts kept, whatever the store's size."""
        u = np.asarray([user])
        lo = int(self.position(u, np.asarray([0 if since is None else since]))[0])
        hi = int((self.user_range(u)[1] if until is None else self.position(u, np.asarray([until])))[0])
        extra_time = np.asarray(extra_time, dtype=np.int64)
        keys = np.concatenate([self.keys[lo:hi], post_keys(np.full(len(extra_time), user), extra_time)])
        feats = np.concatenate([np.asarray(self.features[lo:hi], dtype=np.float32),
                                np.asarray(extra_features, dtype=np.float32).reshape(len(extra_time), self.dim)])
        order = np.argsort(keys, kind="stable")
        return ModalityPosts(keys[order], feats[order])


# -- the store on disk ----------------------------------------------------------------------------
#: content controls (docs/design.md section 8.2): the same model and schedule with the content made uninformative
CONTROLS = ("none", "noise", "shuffle")
STORE_FORMAT = 1


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


def read_rows(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """Rows ``[a, b)`` of ``x``. From a memory-mapped ``.npy`` they are read with a plain file read,
    so a streaming pass over a matrix larger than RAM does not leave every page mapped (and counted
    in the process's resident memory) behind it."""
    if isinstance(x, np.memmap) and isinstance(x.base, mmap.mmap) and x.ndim == 2 and x.flags.c_contiguous:
        b = min(b, x.shape[0])
        row = x.shape[1] * x.dtype.itemsize
        return np.fromfile(x.filename, dtype=x.dtype, count=max(b - a, 0) * x.shape[1],
                           offset=x.offset + a * row).reshape(-1, x.shape[1])
    return np.asarray(x[a:b])


def release_pages(x: np.ndarray) -> None:
    """Unmap the pages a memory-mapped array has touched (they stay in the page cache, so nothing is
    re-read from disk): after a bulk pass over a matrix larger than RAM, the process's resident
    memory goes back to what it allocated itself. A no-op for in-memory arrays."""
    mapped = getattr(x, "_mmap", None)
    if isinstance(mapped, mmap.mmap) and hasattr(mapped, "madvise"):
        mapped.madvise(mmap.MADV_DONTNEED)


def column_moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of a (possibly memory-mapped) matrix, streamed in row chunks."""
    n, d = x.shape
    s1, s2 = np.zeros(d), np.zeros(d)
    for a in range(0, n, STREAM_ROWS):
        block = read_rows(x, a, a + STREAM_ROWS).astype(np.float64)
        s1 += block.sum(axis=0)
        s2 += np.einsum("ij,ij->j", block, block)
    mean = s1 / max(n, 1)
    return mean, np.sqrt(np.maximum(s2 / max(n, 1) - mean * mean, 0.0))


def noise_chunks(x: np.ndarray, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Seeded Gaussian noise with ``x``'s per-column mean and std, as ``(first row, block)`` chunks.

    The noise control: everything downstream (aggregation, standardisation, the autoencoders) sees
    inputs of the same scale as the real posts, so a gain that survives it is capacity, not content.
    One seeded stream drawn chunk by chunk, so memory stays bounded at any size.
    """
    mean, std = column_moments(x)
    rng = np.random.default_rng(seed)
    for a in range(0, x.shape[0], STREAM_ROWS):
        b = min(x.shape[0], a + STREAM_ROWS)
        yield a, (rng.standard_normal((b - a, x.shape[1])) * std + mean).astype(np.float32)


def fill_noise(x: np.ndarray, seed: int) -> None:
    """Overwrite the in-memory array ``x`` with :func:`noise_chunks` of itself (the moments are taken
    before the first chunk is written, so the chunks can be written as they come)."""
    for a, block in noise_chunks(x, seed):
        x[a : a + len(block)] = block


def finite_rows(blocks: list[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` are finite in every block (a broken row is skipped, never averaged in)."""
    ok = np.ones(len(rows), dtype=bool)
    for a in range(0, len(rows), STREAM_ROWS):
        sel = rows[a : a + STREAM_ROWS]
        for block in blocks:
            ok[a : a + STREAM_ROWS] &= np.isfinite(gather_rows(block, sel).astype(np.float32)).all(axis=1)
    return ok


def gather_rows(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``x[rows]``, read as one contiguous slice when the rows are (the common, already sorted case)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and np.all(np.diff(rows) == 1):
        return read_rows(x, int(rows[0]), int(rows[-1]) + 1)
    order = np.argsort(rows, kind="stable")  # read in file order, then put back
    out = np.empty((len(rows), x.shape[1]), dtype=x.dtype)
    out[order] = x[rows[order]]
    release_pages(x)
    return out


class NpyWriter:
    """Writes a ``.npy`` matrix by row blocks through a file handle (no mapping, so no resident pages)."""

    def __init__(self, path: Path, dtype: str, shape: tuple[int, int]) -> None:
        header = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
        self.offset, self.row = header.offset, shape[1] * np.dtype(dtype).itemsize
        self.dtype = np.dtype(dtype)
        del header
        self.fh = open(path, "r+b")  # noqa: SIM115 (closed in close())

    def write(self, a: int, block: np.ndarray) -> None:
        self.fh.seek(self.offset + a * self.row)
        self.fh.write(np.ascontiguousarray(block, dtype=self.dtype).tobytes())

    def close(self) -> None:
        self.fh.close()


def write_modality(folder: Path, mod: str, user: np.ndarray, time: np.ndarray, blocks: list[np.ndarray],
                   rows: np.ndarray, *, dtype: str = "float32", noise_seed: int | None = None) -> ModalityPosts:
    """Sort posts ``rows`` (of the feature ``blocks``) by (user, time) into ``folder/<mod>.*.npy``.

    ``user``/``time`` align with ``rows``. The features are copied in sorted order one chunk at a
    time, so the peak memory is a chunk, not the matrix; ``noise_seed`` replaces them with the
    noise control (drawn with the real rows' per-column moments).
    """
    keys = post_keys(user, time)
    order = np.argsort(keys, kind="stable")
    np.save(folder / f"{mod}.keys.npy", keys[order])
    sorted_rows = np.asarray(rows, dtype=np.int64)[order]
    dim = sum(int(b.shape[1]) for b in blocks)
    path = folder / f"{mod}.features.npy"
    out = NpyWriter(path, dtype, (len(order), dim))
    try:
        for a in range(0, len(order), STREAM_ROWS):
            sel = sorted_rows[a : a + STREAM_ROWS]
            out.write(a, np.concatenate([gather_rows(b, sel).astype(np.float32) for b in blocks], axis=1))
    finally:
        out.close()
    if noise_seed is not None:
        real = np.load(path, mmap_mode="r")
        noise = NpyWriter(path.with_suffix(".noise"), dtype, real.shape)
        try:
            for a, block in noise_chunks(real, noise_seed):
                noise.write(a, block)
        finally:
            noise.close()
        del real
        os.replace(path.with_suffix(".noise"), path)
    return open_modality(folder, mod)


def open_modality(folder: Path, mod: str) -> ModalityPosts:
    """A stored modality, its features memory-mapped (read-only)."""
    return ModalityPosts(np.load(folder / f"{mod}.keys.npy"), np.load(folder / f"{mod}.features.npy", mmap_mode="r"))


# -- optional fixed reduction of deep features ------------------------------------------------------
#: posts sampled (seeded) to fit a reduction: the covariance of 200k rows pins the leading components
PCA_SAMPLE = 200_000


@dataclass
class FixedPCA:
    """A principal-component projection fitted once on training-period posts, then fixed.

    Why (docs/design.md sections 5.5 and 10, **[choice]**): at the paper's counts, 45M posts x (200 + 2048) deep
    dimensions do not fit on one disk; projecting the deep groups to ``k`` dimensions does, and a
    projection fitted on training-period posts only cannot leak test-period content.
    """

    mean: np.ndarray
    components: np.ndarray  # (k, D)
    explained: float  # share of the fitted rows' variance the k components keep

    @classmethod
    def fit(cls, x: np.ndarray, rows: np.ndarray, k: int, seed: int = 0) -> FixedPCA:
        """Fit on ``x[rows]`` (a seeded sample of at most :data:`PCA_SAMPLE` of them), streamed."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) > PCA_SAMPLE:
            rows = np.sort(np.random.default_rng(seed).choice(rows, PCA_SAMPLE, replace=False))
        dim = x.shape[1]
        s1, s2 = np.zeros(dim), np.zeros((dim, dim))
        for a in range(0, len(rows), 1 << 16):
            block = gather_rows(x, rows[a : a + (1 << 16)]).astype(np.float64)
            s1 += block.sum(axis=0)
            s2 += block.T @ block
        n = max(len(rows), 1)
        mean = s1 / n
        cov = s2 / n - np.outer(mean, mean)
        values, vectors = np.linalg.eigh(cov)  # ascending
        order = np.argsort(values)[::-1][: min(k, dim)]
        total = float(np.clip(values, 0, None).sum())
        kept = float(np.clip(values[order], 0, None).sum())
        # a deterministic sign per component (eigh's is arbitrary): the largest loading is positive
        comps = vectors[:, order].T
        comps *= np.sign(comps[np.arange(len(order)), np.abs(comps).argmax(axis=1)])[:, None]
        return cls(mean, comps, kept / total if total > 0 else 1.0)

    def transform(self, block: np.ndarray) -> np.ndarray:
        return ((np.asarray(block, dtype=np.float64) - self.mean) @ self.components.T).astype(np.float32)


class Projected:
    """A feature group seen through a :class:`FixedPCA`: rows are projected as they are read."""

    def __init__(self, base: np.ndarray, pca: FixedPCA) -> None:
        self.base, self.pca = base, pca
        self.shape = (base.shape[0], pca.components.shape[0])
        self.dtype = np.dtype(np.float32)
        self.ndim = 2

    def __getitem__(self, rows: slice | np.ndarray) -> np.ndarray:
        if isinstance(rows, slice):
            return self.pca.transform(read_rows(self.base, rows.start or 0, rows.stop or self.base.shape[0]))
        return self.pca.transform(gather_rows(self.base, np.asarray(rows, dtype=np.int64)))
