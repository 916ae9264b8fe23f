"""Colour features (17 values) of an image, after Wang et al. (2006) / Machajdik & Hanbury (2010).

The thresholds below (warm/cold hue ranges, the 5 brightness and 3 saturation levels) follow the
public re-implementations of Wang, Yu & Jiang, "Image retrieval by emotional semantics: a study of
emotional space and feature extraction" (IEEE SMC 2006) as used by Machajdik & Hanbury,
"Affective image classification using features inspired by psychology and art theory" (ACM MM
2010); they are not copied from the original papers (docs/design.md section 4.3).
"""

from __future__ import annotations

import cv2
import numpy as np

COLOR_FEATURE_NAMES: tuple[str, ...] = (
    "color_hue_cos",
    "color_hue_sin",
    "color_hue_spread",
    "color_saturation_mean",
    "color_saturation_std",
    "color_brightness_mean",
    "color_brightness_std",
    "color_warm_area",
    "color_cold_area",
    "color_brightness_very_dark",
    "color_brightness_dark",
    "color_brightness_medium",
    "color_brightness_bright",
    "color_brightness_very_bright",
    "color_saturation_low",
    "color_saturation_medium",
    "color_saturation_high",
)

# --- thresholds (Wang et al. 2006 via public re-implementations, see module docstring) ---------
#: a pixel with S below this (0-100 scale) is achromatic and counts as neither warm nor cold
CHROMATIC_MIN_SATURATION = 10.0
#: warm hues: [0, 140) and [320, 360) degrees; cold hues: [140, 320)
WARM_HUE_LOW_END = 140.0
WARM_HUE_HIGH_START = 320.0
#: centres of the triangular brightness memberships (very dark .. very bright), V on 0-100
BRIGHTNESS_CENTRES = np.array([21.0, 39.0, 55.0, 68.0, 84.0])
#: breakpoints of the saturation memberships (low, medium, high), S on 0-100
SATURATION_CENTRES = np.array([10.0, 27.0, 51.0])
# ------------------------------------------------------------------------------------------------

_EPS = 1e-9


def fuzzy_memberships(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Triangular memberships of every value in ``x`` to levels peaking at ``centres``.

    Level k rises linearly from centre k-1 to centre k and falls to 0 at centre k+1; the first
    level is 1 below its centre and the last 1 above its centre, so memberships sum to 1 for every
    value (a partition of unity) and the mean membership is an area share.
    Returns shape (len(centres),): the mean membership over ``x``.
    """
    x = np.asarray(x, dtype=np.float32).ravel()
    # piecewise-linear interpolation of the identity matrix = triangular memberships with shoulders
    eye = np.eye(len(centres), dtype=np.float32)
    return np.array([np.interp(x, centres, eye[k]).mean() for k in range(len(centres))], dtype=np.float32)


def hsv_planes(bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV HSV with H in degrees [0, 360) and S, V on 0-100 (float32)."""
    f = bgr.astype(np.float32) * (1.0 / 255.0)
    hsv = cv2.cvtColor(f, cv2.COLOR_BGR2HSV)
    h = hsv[:, :, 0]
    h = np.where(h >= 360.0, h - 360.0, h)
    return h, hsv[:, :, 1] * 100.0, hsv[:, :, 2] * 100.0


def color_features(bgr: np.ndarray) -> np.ndarray:
    """The 17 colour values named in :data:`COLOR_FEATURE_NAMES` for a BGR uint8 image.

    Hue is circular, so its mean is the direction of the saturation-weighted sum of unit vectors,
    reported as (cos, sin) to stay continuous across 0/360; spread is the circular variance 1 - R
    (R = length of the weighted mean vector). An achromatic image has no hue weight: hue cos, sin
    and spread are all 0.
    """
    h, s, v = hsv_planes(bgr)
    rad = np.deg2rad(h)
    w = s * (1.0 / 100.0)
    wsum = float(w.sum())
    if wsum > _EPS * w.size:
        c = float((w * np.cos(rad)).sum()) / wsum
        sn = float((w * np.sin(rad)).sum()) / wsum
        r = float(np.hypot(c, sn))
        hue_cos, hue_sin = (c / r, sn / r) if r > 1e-6 else (0.0, 0.0)
        spread = 1.0 - r
    else:
        hue_cos = hue_sin = spread = 0.0
    chromatic = s >= CHROMATIC_MIN_SATURATION
    warm_hue = (h < WARM_HUE_LOW_END) | (h >= WARM_HUE_HIGH_START)
    warm = float((chromatic & warm_hue).mean())
    cold = float((chromatic & ~warm_hue).mean())
    head = np.array([hue_cos, hue_sin, spread, s.mean(), s.std(), v.mean(), v.std(), warm, cold], dtype=np.float32)
    return np.concatenate([head, _level_areas(bgr)]).astype(np.float32)


def _membership_tables() -> tuple[np.ndarray, np.ndarray]:
    """Level memberships for every 8-bit (max, min) channel pair: (5, 256) for V, (3, 65536) for S.

    For 8-bit input V = max/255 and S = (max - min)/max depend only on the pair (max, min), so the
    level areas are a dot product of these fixed tables with a 256 x 256 histogram: exact, and ~10x
    faster than evaluating memberships on every pixel.
    """
    levels = np.arange(256, dtype=np.float64)
    v = levels * (100.0 / 255.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(levels[:, None] > 0, (levels[:, None] - levels[None, :]) / levels[:, None], 0.0)
    s = (np.clip(s, 0.0, 1.0) * 100.0).ravel()
    eye_v, eye_s = np.eye(len(BRIGHTNESS_CENTRES)), np.eye(len(SATURATION_CENTRES))
    v_table = np.stack([np.interp(v, BRIGHTNESS_CENTRES, eye_v[k]) for k in range(len(eye_v))])
    s_table = np.stack([np.interp(s, SATURATION_CENTRES, eye_s[k]) for k in range(len(eye_s))])
    return v_table, s_table


_V_TABLE, _S_TABLE = _membership_tables()


def _level_areas(bgr: np.ndarray) -> np.ndarray:
    """The 5 brightness and 3 saturation level areas (mean memberships) of an 8-bit BGR image."""
    b, g, r = cv2.split(bgr)
    mx = cv2.max(cv2.max(b, g), r).ravel().astype(np.int32)
    mn = cv2.min(cv2.min(b, g), r).ravel()
    hist = np.bincount(mx * 256 + mn, minlength=65536) / mx.size
    v_weight = hist.reshape(256, 256).sum(axis=1)
    return np.concatenate([_V_TABLE @ v_weight, _S_TABLE @ hist]).astype(np.float32)
