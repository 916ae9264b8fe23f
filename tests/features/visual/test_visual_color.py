"""Colour features on constructed images with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from amae.features.visual.color import (
    BRIGHTNESS_CENTRES,
    COLOR_FEATURE_NAMES,
    SATURATION_CENTRES,
    color_features,
    fuzzy_memberships,
)


def solid(bgr: tuple[int, int, int], h: int = 60, w: int = 80) -> np.ndarray:
    return np.full((h, w, 3), bgr, dtype=np.uint8)


def feats(img: np.ndarray) -> dict[str, float]:
    return dict(zip(COLOR_FEATURE_NAMES, color_features(img).tolist(), strict=True))


def test_seventeen_named_values() -> None:
    assert len(COLOR_FEATURE_NAMES) == 17 == len(color_features(solid((1, 2, 3))))


def test_pure_red_is_all_warm() -> None:
    f = feats(solid((0, 0, 255)))
    assert f["color_warm_area"] == 1.0 and f["color_cold_area"] == 0.0
    assert f["color_hue_cos"] == pytest.approx(1.0) and f["color_hue_sin"] == pytest.approx(0.0, abs=1e-6)
    assert f["color_hue_spread"] == pytest.approx(0.0, abs=1e-6)
    assert f["color_saturation_high"] == pytest.approx(1.0)
    assert f["color_brightness_very_bright"] == pytest.approx(1.0)


def test_pure_blue_is_all_cold() -> None:
    f = feats(solid((255, 0, 0)))
    assert f["color_cold_area"] == 1.0 and f["color_warm_area"] == 0.0
    # blue is at 240 degrees
    assert f["color_hue_cos"] == pytest.approx(np.cos(np.deg2rad(240)), abs=1e-5)
    assert f["color_hue_sin"] == pytest.approx(np.sin(np.deg2rad(240)), abs=1e-5)


def test_black_is_all_very_dark() -> None:
    f = feats(solid((0, 0, 0)))
    assert f["color_brightness_very_dark"] == 1.0
    others = ["color_brightness_dark", "color_brightness_medium", "color_brightness_bright"]
    assert all(f[k] == 0.0 for k in others + ["color_brightness_very_bright"])
    assert f["color_brightness_mean"] == 0.0 and f["color_saturation_low"] == 1.0


def test_grey_has_zero_hue_weight() -> None:
    f = feats(solid((128, 128, 128)))
    assert (f["color_hue_cos"], f["color_hue_sin"], f["color_hue_spread"]) == (0.0, 0.0, 0.0)
    assert f["color_warm_area"] == 0.0 and f["color_cold_area"] == 0.0
    assert f["color_saturation_mean"] == 0.0


def test_opposite_hues_have_maximal_spread() -> None:
    img = solid((0, 0, 255))
    img[:, 40:] = (255, 255, 0)  # cyan, 180 degrees away
    f = feats(img)
    assert f["color_hue_spread"] == pytest.approx(1.0, abs=1e-5)
    assert f["color_warm_area"] == pytest.approx(0.5) and f["color_cold_area"] == pytest.approx(0.5)


def test_hue_mean_is_circular_across_zero() -> None:
    # hues 350 and 10 degrees: the circular mean is 0, an arithmetic mean would say 180
    import cv2

    hsv = np.zeros((10, 20, 3), dtype=np.float32)
    hsv[:, :10] = (350.0, 1.0, 1.0)
    hsv[:, 10:] = (10.0, 1.0, 1.0)
    bgr = np.round(cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR) * 255).astype(np.uint8)
    f = feats(bgr)
    assert f["color_hue_cos"] > 0.99


def test_memberships_peak_at_their_centres() -> None:
    for k, c in enumerate(BRIGHTNESS_CENTRES):
        m = fuzzy_memberships(np.array([c]), BRIGHTNESS_CENTRES)
        assert m[k] == pytest.approx(1.0) and m.sum() == pytest.approx(1.0)
    halfway = (SATURATION_CENTRES[0] + SATURATION_CENTRES[1]) / 2
    mid = fuzzy_memberships(np.array([halfway]), SATURATION_CENTRES)
    np.testing.assert_allclose(mid, [0.5, 0.5, 0.0])


@settings(max_examples=25, deadline=None)
@given(arrays(np.uint8, (12, 9, 3)))
def test_level_areas_partition_the_image(img: np.ndarray) -> None:
    f = color_features(img)
    assert f[9:14].sum() == pytest.approx(1.0, abs=1e-5)
    assert f[14:17].sum() == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= f[7] + f[8] <= 1.0 + 1e-6
    assert np.all(np.isfinite(f))


@given(st.integers(0, 255))
@settings(max_examples=20, deadline=None)
def test_any_grey_level_is_achromatic(level: int) -> None:
    f = color_features(solid((level, level, level), 8, 8))
    assert f[0] == f[1] == f[2] == f[7] == f[8] == 0.0
