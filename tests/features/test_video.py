"""Video key frames: first, middle and last, verified on frames that carry their own number."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from amae.features.video import _read_sequential, key_frame_indices, read_key_frames
from amae.features.visual.decode import MediaError

STEP = 12  # grey level = 10 + STEP * frame index; survives mp4v compression with a wide margin


def write_video(path: Path, n: int, size: tuple[int, int] = (96, 64)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    for i in range(n):
        writer.write(np.full((size[1], size[0], 3), 10 + STEP * i, np.uint8))
    writer.release()
    return path


def frame_number(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - 10) / STEP)


@pytest.mark.parametrize(("n", "expected"), [(15, [0, 7, 14]), (10, [0, 5, 9]), (2, [0, 1]), (1, [0])])
def test_first_middle_last(tmp_path: Path, n: int, expected: list[int]) -> None:
    frames = read_key_frames(write_video(tmp_path / "v.mp4", n))
    assert [frame_number(f) for f in frames] == expected
    assert all(f.dtype == np.uint8 and f.shape == (64, 96, 3) for f in frames)


def test_sequential_fallback_reads_the_same_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", 15)
    assert [frame_number(f) for f in _read_sequential(path, [0, 7, 14])] == [0, 7, 14]


def test_key_frame_indices() -> None:
    assert key_frame_indices(0) == [] and key_frame_indices(1) == [0]
    assert key_frame_indices(3) == [0, 1, 2] and key_frame_indices(100) == [0, 50, 99]


def test_video_with_no_frames(tmp_path: Path) -> None:
    path = write_video(tmp_path / "empty.mp4", 0)
    with pytest.raises(MediaError):
        read_key_frames(path)


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 50])
def test_unreadable_video(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.mov").write_bytes(content)
    with pytest.raises(MediaError):
        read_key_frames(tmp_path / "bad.mov")


def test_oversized_video_frames_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="too large"):
        read_key_frames(write_video(tmp_path / "v.mp4", 3), max_pixels=1000)
