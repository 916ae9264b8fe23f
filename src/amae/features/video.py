"""Key frames of a video (docs/design.md section 4.5): first, middle and last, through OpenCV ``VideoCapture``.

Each frame then goes through the image path; a post's visual vector is the mean over all its
images and frames.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from amae.features.visual.decode import MediaError


def key_frame_indices(n_frames: int) -> list[int]:
    """Indices of the first, middle and last frame of an ``n_frames`` video (deduplicated)."""
    if n_frames < 1:
        return []
    return sorted({0, n_frames // 2, n_frames - 1})


#: a video whose frames must be walked one by one (no usable frame count) is refused past this many:
#: a tiny file can hold millions of empty frames, and walking them is the cost, not the size
MAX_WALK_FRAMES = 20_000


def _count_by_grabbing(path: Path) -> int:
    """Exact frame count by grabbing (demux + decode-free where possible) every frame.

    Used only when the container's frame count is missing or wrong; bounded by :data:`MAX_WALK_FRAMES`.
    """
    cap = cv2.VideoCapture(str(path))
    n = 0
    try:
        while cap.grab():
            n += 1
            if n > MAX_WALK_FRAMES:
                raise MediaError(f"video too long to walk frame by frame (over {MAX_WALK_FRAMES} frames)")
    finally:
        cap.release()
    return n


def _read_sequential(path: Path, wanted: list[int]) -> list[np.ndarray]:
    """Decode exactly the ``wanted`` frame indices by walking the stream (no seeking)."""
    cap = cv2.VideoCapture(str(path))
    frames: dict[int, np.ndarray] = {}
    try:
        i = 0
        last = max(wanted)
        while i <= last and cap.grab():
            if i in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    frames[i] = frame
            i += 1
    finally:
        cap.release()
    return [frames[i] for i in wanted if i in frames]


def read_key_frames(path: Path, max_pixels: int = 40_000_000) -> list[np.ndarray]:
    """First, middle and last frames of ``path`` as BGR uint8 arrays.

    Seeks by frame index when the container reports a count and every seek lands; otherwise
    counts frames and walks the stream, so variable-frame-rate files still give the right frames.
    Raises :class:`MediaError` for unreadable videos, videos without frames and oversized frames.
    """
    if not path.is_file():
        raise MediaError("missing file")
    if path.stat().st_size == 0:
        raise MediaError("empty file")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError("cannot open video")
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w * h > max_pixels:
            raise MediaError(f"video frames too large: {w}x{h} exceeds max_pixels={max_pixels}")
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        frames: list[np.ndarray] = []
        if n > 0:
            for idx in key_frame_indices(n):
                cap.set(cv2.CAP_PROP_POS_FRAMES, idx)
                ok, frame = cap.read()
                if not ok or frame is None:
                    frames = []
                    break
                frames.append(frame)
    finally:
        cap.release()
    if not frames:
        n = _count_by_grabbing(path)
        frames = _read_sequential(path, key_frame_indices(n))
    if not frames:
        raise MediaError("video has no decodable frames")
    out = []
    for f in frames:
        if f.ndim == 2:
            f = cv2.cvtColor(f, cv2.COLOR_GRAY2BGR)
        elif f.shape[2] == 4:
            f = cv2.cvtColor(f, cv2.COLOR_BGRA2BGR)
        out.append(np.ascontiguousarray(f.astype(np.uint8, copy=False)))
    return out
