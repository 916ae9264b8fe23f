"""What one request may cost, as settings with safe defaults (``amae serve`` flags, ``/metadata``).

Size limits bound what a request may *say* (posts, characters, media paths, body bytes); the media
budget bounds the work it may *cause* before any pixel is decoded (number of media, total pixels
read from the headers, video frames), the time budget bounds the wall time of the work itself, and
the worker pool bounds how many requests compute at once: past ``workers + queue`` requests in
flight the server answers 503 with ``Retry-After`` instead of queueing without limit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ServeLimits:
    max_k: int = 100
    max_posts: int = 50
    max_text_chars: int = 10_000
    max_media_per_post: int = 10
    max_body_bytes: int = 1_000_000
    #: media decoded per request, all posts together
    max_media_per_request: int = 20
    #: total pixels per request, read from each image's header (a video counts its 3 key frames)
    max_pixels_per_request: int = 40_000_000
    #: key frames decoded per request (3 per video)
    max_video_frames: int = 12
    #: seconds of work per request; media left when it runs out are skipped and the response says so
    time_budget_s: float = 10.0
    #: requests computed at once (threads), and requests allowed to wait for one
    workers: int = 2
    queue: int = 8
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            floor = 0 if f.name == "queue" else (1e-9 if f.name == "time_budget_s" else 1)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= floor:
                raise ValueError(f"serve limit '{f.name}' must be a positive number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BudgetError(ValueError):
    """A request over its media budget: answered 422 with the field and the limit."""


def media_cost(root: Path, paths: list[str]) -> tuple[int, int, list[str]]:
    """(pixels, video frames, unreadable) for media under ``root``, from headers only (nothing decoded)."""
    import cv2
    from PIL import Image

    from amae.features.visual.config import VIDEO_EXTENSIONS

    pixels, frames, bad = 0, 0, []
    for rel in paths:
        path = Path(root) / rel
        try:
            if path.suffix.lower() in VIDEO_EXTENSIONS:
                cap = cv2.VideoCapture(str(path))
                try:
                    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
                finally:
                    cap.release()
                pixels += 3 * w * h
                frames += 3
            else:
                with Image.open(path) as img:
                    w, h = img.size
                pixels += w * h
        except Exception:  # noqa: BLE001 - unreadable media are skipped later, and cost nothing here
            bad.append(rel)
    return pixels, frames, bad


def check_media_budget(limits: ServeLimits, root: Path | None, media: list[list[str]]) -> None:
    """Raise :class:`BudgetError` (naming the field and the limit) before any decoding happens."""
    flat = [m for post in media for m in post]
    if root is None or not flat:
        return
    if len(flat) > limits.max_media_per_request:
        raise BudgetError(f"posts[].media: {len(flat)} media in one request (limit {limits.max_media_per_request})")
    pixels, frames, _ = media_cost(root, flat)
    if frames > limits.max_video_frames:
        raise BudgetError(f"posts[].media: {frames // 3} video(s) = {frames} key frames (limit "
                          f"{limits.max_video_frames} frames per request)")
    if pixels > limits.max_pixels_per_request:
        raise BudgetError(f"posts[].media: {pixels} pixels in one request (limit {limits.max_pixels_per_request})")
