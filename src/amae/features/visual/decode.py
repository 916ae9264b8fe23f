"""Safe, bounded image decoding to 8-bit BGR arrays.

Social-media dumps contain every kind of broken file. Everything here either returns an
``(H, W, 3)`` uint8 BGR array or raises :class:`MediaError` with a short reason; it never lets a
single file stop a run, and it never allocates a pixel buffer larger than ``max_pixels`` because
the header is checked before decoding.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, UnidentifiedImageError

# Truncated files must fail, not decode to grey garbage.
ImageFile.LOAD_TRUNCATED_IMAGES = False


class MediaError(Exception):
    """A medium that cannot be used; ``str(err)`` is the reason recorded in ``failures``."""


def resize_to_pixels(img: np.ndarray, pixels: int) -> np.ndarray:
    """Rescale so the image has about ``pixels`` pixels, keeping its aspect ratio.

    Both directions: a fixed working size makes colour areas and line counts comparable between a
    thumbnail and a 12-megapixel photo.
    """
    h, w = img.shape[:2]
    scale = float(np.sqrt(pixels / (h * w)))
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if (nw, nh) == (w, h):
        return img
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(img, (nw, nh), interpolation=interp)


def resize_long_side(img: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink (never enlarge) so that the longer side is at most ``max_side``."""
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img
    scale = max_side / max(h, w)
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to an 8-bit RGB array.

    16-bit and 32-bit integer greyscale would be clipped (not scaled) by ``convert("RGB")``, which
    turns most 16-bit photos white; they are scaled by 1/257 instead. Alpha is composited onto
    white, the background most viewers show.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img, dtype=np.float64)
        a = np.clip(a / 257.0, 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "F":
        a = np.clip(np.asarray(img, dtype=np.float64), 0, 255).astype(np.uint8)
        return np.repeat(a[:, :, None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or img.mode == "RGBA":
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.asarray(img)


def _draft_scale(w: int, h: int, min_pixels: int, min_long_side: int, min_short_side: int) -> float:
    """The smallest scale (<= 1) that still satisfies every consumer's minimum size."""
    need = max(
        float(np.sqrt(min_pixels / (w * h))) if min_pixels else 0.0,
        min_long_side / max(w, h),
        min_short_side / min(w, h),
    )
    return min(1.0, need)


def load_image(
    path: Path, max_pixels: int, *, min_pixels: int = 0, min_long_side: int = 0, min_short_side: int = 0
) -> np.ndarray:
    """Decode ``path`` (JPEG, PNG, WebP, GIF first frame) as an ``(H, W, 3)`` uint8 BGR array.

    The ``min_*`` hints say how much resolution the consumers need (e.g. 200,000 pixels for
    colour, a 640 px long side for faces, a 256 px short side for the CNN): a larger JPEG is then
    decoded directly at a reduced DCT scale (1/2 .. 1/8, never below the hints), several times
    faster than a full decode followed by a resize. Without hints the full image is decoded.
    Raises :class:`MediaError` for empty, unreadable, truncated or oversized files.
    """
    try:
        size = path.stat().st_size
    except OSError as err:
        raise MediaError(f"cannot stat file: {err.strerror or err}") from None
    if size == 0:
        raise MediaError("empty file")
    try:
        with warnings.catch_warnings():
            # We check the size ourselves below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if w < 1 or h < 1:
                    raise MediaError(f"image has no pixels ({w}x{h})")
                if w * h > max_pixels:
                    if img.format == "JPEG":
                        # DCT-domain downscaling (1/2..1/8): the full-size buffer is never allocated.
                        # Draft picks the strongest reduction whose result is >= the request, so
                        # asking for half the allowed side keeps the result under max_pixels.
                        scale = 0.5 * float(np.sqrt(max_pixels / (w * h)))
                        img.draft("RGB", (max(1, int(w * scale)), max(1, int(h * scale))))
                    if img.size[0] * img.size[1] > max_pixels:
                        raise MediaError(f"image too large: {w}x{h} = {w * h} pixels exceeds max_pixels={max_pixels}")
                elif img.format == "JPEG" and (min_pixels or min_long_side or min_short_side):
                    scale = _draft_scale(w, h, min_pixels, min_long_side, min_short_side)
                    if scale <= 0.5:
                        img.draft("RGB", (max(1, int(np.ceil(w * scale))), max(1, int(np.ceil(h * scale)))))
                img.seek(0)  # first frame of animated GIF / WebP
                img.load()
                rgb = _to_rgb_array(img)
    except MediaError:
        raise
    except Image.DecompressionBombError as err:
        raise MediaError(f"image too large (decompression bomb guard): {err}") from None
    except UnidentifiedImageError:
        raise MediaError("not a recognised image format") from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise MediaError(f"cannot decode image: {err}") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.size == 0:
        raise MediaError(f"unexpected decoded shape {rgb.shape}")
    return np.ascontiguousarray(rgb[:, :, ::-1])
