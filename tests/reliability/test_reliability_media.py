"""The hostile matrix, media: every unreadable medium is skipped with its reason, the post gets zeros
and the ``visual_none`` flag, and the batch goes on; nothing raises, nothing decodes a bomb."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from amae.features.visual import VisualBatchExtractor, VisualFeatureConfig
from tests.features.visual.test_visual_decode import huge_png


def _good(root: Path) -> str:
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(root / "good.png")
    return "good.png"


def _truncated(root: Path) -> str:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(root / "t.jpg")
    data = (root / "t.jpg").read_bytes()
    (root / "t.jpg").write_bytes(data[: len(data) // 3])
    return "t.jpg"


def _no_frames(root: Path) -> str:
    writer = cv2.VideoWriter(str(root / "empty.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5, (32, 32))
    writer.release()  # a container with no frame at all
    return "empty.mp4"


# name -> (make the file, words of the recorded reason)
HOSTILE_MEDIA: dict[str, tuple[Callable[[Path], str], str]] = {
    "zero-byte image": (lambda r: ((r / "z.jpg").write_bytes(b""), "z.jpg")[1], "empty"),
    "truncated jpeg": (_truncated, ""),
    "text named .jpg": (lambda r: ((r / "x.jpg").write_text("not an image"), "x.jpg")[1], ""),
    "decompression bomb png": (lambda r: (huge_png(r / "bomb.png", side=20_000), "bomb.png")[1], "too large"),
    "video without frames": (_no_frames, ""),
    "zero-byte video": (lambda r: ((r / "v.mp4").write_bytes(b""), "v.mp4")[1], "empty"),
    "missing file": (lambda r: "nowhere.png", "missing"),
    "unsupported extension": (lambda r: ((r / "a.tiff").write_bytes(b"II*\x00"), "a.tiff")[1], "unsupported"),
    "fifo named .png": (lambda r: (os.mkfifo(r / "pipe.png"), "pipe.png")[1], "not a regular file"),
    "folder named .jpg": (lambda r: ((r / "dir.jpg").mkdir(), "dir.jpg")[1], "not a regular file"),
    "symlink loop": (lambda r: ((r / "a.png").symlink_to(r / "b.png"), (r / "b.png").symlink_to(r / "a.png"),
                                "a.png")[2], "cannot be resolved"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_MEDIA))
def test_hostile_medium_is_skipped_with_its_reason(case: str, tmp_path: Path) -> None:
    make, reason = HOSTILE_MEDIA[case]
    bad = make(tmp_path)
    good = _good(tmp_path)
    batch = pd.DataFrame({"post_idx": [0, 1], "user_idx": [0, 0], "timestamp": [1, 2], "text": [None, None],
                          "media": [[bad], [good]]})
    extractor = VisualBatchExtractor(tmp_path, VisualFeatureConfig(deep=False, max_pixels=40_000_000))
    result = extractor(batch)
    assert [f["post_idx"] for f in result.failures] == [0], result.failures
    assert reason in result.failures[0]["reason"]
    assert result.flags["visual_none"].tolist() == [True, False]  # the bad post is flagged, the good one is not
    assert np.all(result.blocks["visual_h"][0] == 0) and np.any(result.blocks["visual_h"][1] != 0)


def test_a_fifo_in_a_request_is_never_opened(tmp_path: Path) -> None:
    """The request's cost check reads headers; a FIFO would block it forever, so it is refused first."""
    from amae.serving.limits import ServeLimits, apply_media_budget

    os.mkfifo(tmp_path / "pipe.png")
    _good(tmp_path)
    done: list = []
    worker = threading.Thread(daemon=True, target=lambda: done.append(apply_media_budget(ServeLimits(), tmp_path,
                                                                             [["pipe.png", "good.png"]])))
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader so the test process can exit, then fail
        os.close(os.open(tmp_path / "pipe.png", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the cost check blocked on a FIFO")
    kept, note = done[0]
    assert kept == [["pipe.png", "good.png"]] and note is None  # costless; the extractor skips it with its reason
