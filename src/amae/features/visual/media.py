"""From a post's ``media`` list to decoded images: path safety, kind by extension, video frames."""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np

from amae.features.video import read_key_frames
from amae.features.visual.config import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from amae.features.visual.decode import MediaError, load_image


def resolve_media_path(root: Path, rel: str) -> Path:
    """The file ``rel`` inside the dataset folder ``root``.

    Refuses (with :class:`MediaError`) absolute paths, ``..`` components and paths that leave
    ``root`` through a symlink: a posts table must not make the extractor read arbitrary files.
    """
    if not isinstance(rel, str) or not rel.strip():
        raise MediaError("empty media path")
    if PurePosixPath(rel).is_absolute() or PureWindowsPath(rel).is_absolute() or PureWindowsPath(rel).drive:
        raise MediaError("absolute path refused: media paths must be relative to the dataset folder")
    parts = PurePosixPath(rel.replace("\\", "/")).parts
    if ".." in parts:
        raise MediaError("path with '..' refused: it would leave the dataset folder")
    try:
        root_resolved = root.resolve()
        path = (root_resolved / rel).resolve()
    except (RuntimeError, OSError):  # a symlink loop, a name too long
        raise MediaError("path cannot be resolved (a symlink loop?)") from None
    if not path.is_relative_to(root_resolved):
        raise MediaError("path leaves the dataset folder through a symlink: refused")
    if not path.exists():
        raise MediaError("missing file")
    if not path.is_file():  # a FIFO, a device or a folder: opening one could block or read forever
        raise MediaError("not a regular file")
    return path


def media_kind(rel: str) -> str:
    """``"image"`` or ``"video"`` by extension; :class:`MediaError` otherwise."""
    ext = PurePosixPath(rel).suffix.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in VIDEO_EXTENSIONS:
        return "video"
    raise MediaError(f"unsupported extension {ext or '(none)'!r}")


def load_medium(root: Path, rel: str, max_pixels: int, **size_hints: int) -> list[np.ndarray]:
    """All frames one medium contributes: one for an image, up to three for a video.

    ``size_hints`` (``min_pixels``, ``min_long_side``, ``min_short_side``) go to :func:`load_image`.
    """
    kind = media_kind(rel)
    path = resolve_media_path(root, rel)
    if kind == "image":
        return [load_image(path, max_pixels, **size_hints)]
    return read_key_frames(path, max_pixels)
