"""What one request may cost, as settings with safe defaults (``amae serve`` flags, ``/metadata``).

Size limits bound what a request may *say* (posts, characters, media paths, body bytes); the media
budget bounds the work it may *cause* before any pixel is decoded (number of media, total pixels
read from the headers, video frames: media past it are skipped and counted in the answer), the
time budget bounds the wall time of the work itself, and
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
    #: seconds of work per request, counted from its arrival; texts and media left when it runs out are
    #: skipped and the response says so
    time_budget_s: float = 10.0
    #: light requests computed at once (threads), and requests allowed to wait (light and heavy together)
    workers: int = 2
    queue: int = 8
    #: heavy requests (media, or text over ``light_text_chars``) computed at once, in a lane of their own
    heavy_workers: int = 1
    #: characters of text a request may carry and still be light (featurised in one batch, in its thread)
    light_text_chars: int = 1_000
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            floor = 0 if f.name == "queue" else (1e-9 if f.name == "time_budget_s" else 1)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= floor:
                raise ValueError(f"serve limit '{f.name}' must be a positive number, got {value!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _cost(root: Path, rel: str) -> tuple[int, int]:
    """(pixels, video frames) of one medium from its header; unreadable media cost nothing (skipped later).

    The path is checked first (inside the media root, a regular file), so a FIFO or a device named
    in a request is never opened: reading one could block a worker before its time budget runs.
    """
    import cv2
    from PIL import Image

    from amae.features.visual.config import VIDEO_EXTENSIONS
    from amae.features.visual.decode import MediaError
    from amae.features.visual.media import resolve_media_path

    try:
        path = resolve_media_path(Path(root), rel)
    except MediaError:
        return 0, 0  # skipped by the extractor, with its reason
    try:
        if path.suffix.lower() in VIDEO_EXTENSIONS:
            cap = cv2.VideoCapture(str(path))
            try:
                w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            finally:
                cap.release()
            return 3 * w * h, 3
        with Image.open(path) as img:
            w, h = img.size
        return w * h, 0
    except Exception:  # noqa: BLE001 - unreadable media are skipped by the extractor, with a reason
        return 0, 0


def apply_media_budget(limits: ServeLimits, root: Path | None, media: list[list[str]]
                       ) -> tuple[list[list[str]], str | None]:
    """Keep media, in post order, while the request stays within its budget; skip the rest.

    Costs come from the headers only (nothing is decoded here). Returns the media each post keeps
    and a note counting what was skipped (None when nothing was). A skipped medium is reported,
    never silently dropped: the answer's notes say how many and why.
    """
    total = sum(len(m) for m in media)
    if root is None or total == 0:
        return media, None
    kept: list[list[str]] = []
    n, pixels, frames = 0, 0, 0
    for post in media:
        mine = []
        for rel in post:
            if n >= limits.max_media_per_request:
                break
            px, fr = _cost(root, rel)
            if pixels + px > limits.max_pixels_per_request or frames + fr > limits.max_video_frames:
                continue
            mine.append(rel)
            n, pixels, frames = n + 1, pixels + px, frames + fr
        kept.append(mine)
    skipped = total - n
    if not skipped:
        return kept, None
    return kept, (f"media budget: {n} of {total} media decoded ({pixels} pixels, {frames} video frames); "
                  f"{skipped} skipped (limits: {limits.max_media_per_request} media, "
                  f"{limits.max_pixels_per_request} pixels, {limits.max_video_frames} video frames per request)")
