"""Texture and composition: Tenengrad clarity and static/dynamic lines (docs/design.md section 4.3).

Static lines (near horizontal/vertical) read as calm, oblique ones as dynamic (Machajdik &
Hanbury 2010, after Itten); the 15 degree tolerance and Canny/Hough settings follow public
re-implementations, not the original paper.
"""

from __future__ import annotations

import cv2
import numpy as np

TEXTURE_FEATURE_NAMES: tuple[str, ...] = (
    "texture_clarity",
    "lines_dynamic_ratio_length",
    "lines_dynamic_ratio_count",
    "lines_count_per100",
    "lines_has_lines",
)

#: a line within this many degrees of horizontal or vertical is static
STATIC_TOLERANCE_DEG = 15.0
#: Canny hysteresis thresholds on the 8-bit greyscale image
CANNY_LOW, CANNY_HIGH = 50, 150
#: probabilistic Hough: accumulator votes, and min length / max gap as a share of the short side
HOUGH_THRESHOLD = 40
HOUGH_MIN_LENGTH_FRAC = 0.08
HOUGH_MAX_GAP_FRAC = 0.01


def tenengrad_clarity(grey: np.ndarray) -> float:
    """Mean squared 3x3 Sobel magnitude of ``grey`` scaled to [0, 1], stored as log1p(1000 T).

    The log keeps the huge dynamic range of T (flat sky vs. foliage) usable by a linear layer.
    """
    g = grey.astype(np.float32) * (1.0 / 255.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    t = float(np.mean(gx * gx + gy * gy))
    return float(np.log1p(1000.0 * t))


def fold_angles(dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """Undirected line angles in degrees folded to [0, 180)."""
    a = np.degrees(np.arctan2(dy, dx)) % 180.0
    return np.where(a >= 180.0, a - 180.0, a)


def is_static(angles: np.ndarray) -> np.ndarray:
    """True where a folded angle is within the tolerance of 0, 90 or 180 degrees."""
    dist = np.minimum.reduce([np.abs(angles), np.abs(angles - 90.0), np.abs(180.0 - angles)])
    return dist <= STATIC_TOLERANCE_DEG


def line_features(grey: np.ndarray) -> np.ndarray:
    """Length-weighted and count-based dynamic ratios, lines/100 and a has-lines flag.

    With no line the ratios are 0.5 (no evidence either way) and the flag is 0.
    """
    edges = cv2.Canny(grey, CANNY_LOW, CANNY_HIGH)
    short = min(grey.shape[:2])
    lines = cv2.HoughLinesP(
        edges,
        rho=1,
        theta=np.pi / 180,
        threshold=HOUGH_THRESHOLD,
        minLineLength=max(5, int(HOUGH_MIN_LENGTH_FRAC * short)),
        maxLineGap=max(2, int(HOUGH_MAX_GAP_FRAC * short)),
    )
    if lines is None or len(lines) == 0:
        return np.array([0.5, 0.5, 0.0, 0.0], dtype=np.float32)
    seg = lines.reshape(-1, 4).astype(np.float32)
    dx, dy = seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1]
    length = np.hypot(dx, dy)
    dynamic = ~is_static(fold_angles(dx, dy))
    total = float(length.sum())
    by_length = float(length[dynamic].sum()) / total if total > 0 else 0.5
    return np.array([by_length, float(dynamic.mean()), len(seg) / 100.0, 1.0], dtype=np.float32)


def texture_features(bgr: np.ndarray) -> np.ndarray:
    """The 5 values named in :data:`TEXTURE_FEATURE_NAMES`."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    return np.concatenate([[tenengrad_clarity(grey)], line_features(grey)]).astype(np.float32)
