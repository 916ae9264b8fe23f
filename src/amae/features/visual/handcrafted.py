"""The handcrafted visual vector (``visual_h``) of one image: colour, texture/lines, faces."""

from __future__ import annotations

import numpy as np

from amae.features.visual.color import COLOR_FEATURE_NAMES, color_features
from amae.features.visual.decode import resize_to_pixels
from amae.features.visual.faces import FACE_FEATURE_NAMES, face_features
from amae.features.visual.texture import TEXTURE_FEATURE_NAMES, texture_features

HANDCRAFTED_FEATURE_NAMES: tuple[str, ...] = COLOR_FEATURE_NAMES + TEXTURE_FEATURE_NAMES + FACE_FEATURE_NAMES


def handcrafted_features(
    bgr: np.ndarray,
    *,
    work_pixels: int = 200_000,
    face_threshold: float = 0.7,
    face_max_side: int = 640,
    face_threads: int = 1,
) -> np.ndarray:
    """float32 vector named by :data:`HANDCRAFTED_FEATURE_NAMES` for a BGR uint8 image.

    Colour and texture run on a copy of about ``work_pixels`` pixels (scale-independent areas and
    line counts); faces on the decoded image shrunk to ``face_max_side`` (small faces survive).
    """
    work = resize_to_pixels(bgr, work_pixels)
    return np.concatenate(
        [
            color_features(work),
            texture_features(work),
            face_features(bgr, face_threshold, face_max_side, face_threads),
        ]
    ).astype(np.float32)
