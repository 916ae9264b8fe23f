"""Clarity and static/dynamic lines on constructed images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from amae.features.visual.texture import (
    TEXTURE_FEATURE_NAMES,
    fold_angles,
    is_static,
    tenengrad_clarity,
    texture_features,
)


def stripes(kind: str, size: int = 400, period: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    coord = {"horizontal": yy, "vertical": xx, "diagonal": xx + yy, "antidiagonal": xx - yy + size}[kind]
    grey = np.where((coord // (period // 2)) % 2 == 0, 30, 220).astype(np.uint8)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def named(img: np.ndarray) -> dict[str, float]:
    return dict(zip(TEXTURE_FEATURE_NAMES, texture_features(img).tolist(), strict=True))


@pytest.mark.parametrize("kind", ["horizontal", "vertical"])
def test_axis_stripes_are_static(kind: str) -> None:
    f = named(stripes(kind))
    assert f["lines_has_lines"] == 1.0 and f["lines_count_per100"] > 0
    assert f["lines_dynamic_ratio_length"] == 0.0 and f["lines_dynamic_ratio_count"] == 0.0


@pytest.mark.parametrize("kind", ["diagonal", "antidiagonal"])
def test_diagonal_stripes_are_dynamic(kind: str) -> None:
    f = named(stripes(kind))
    assert f["lines_has_lines"] == 1.0
    assert f["lines_dynamic_ratio_length"] > 0.9 and f["lines_dynamic_ratio_count"] > 0.9


def test_no_lines_gives_neutral_ratios() -> None:
    f = named(np.full((100, 100, 3), 90, np.uint8))
    assert [f[k] for k in TEXTURE_FEATURE_NAMES[1:]] == [0.5, 0.5, 0.0, 0.0]
    assert f["texture_clarity"] == 0.0


def test_blurred_copy_is_less_clear() -> None:
    grey = cv2.cvtColor(skimage.data.chelsea(), cv2.COLOR_RGB2GRAY)
    sharp = tenengrad_clarity(grey)
    mild, strong = (tenengrad_clarity(cv2.GaussianBlur(grey, (0, 0), s)) for s in (1.0, 3.0))
    # stored as log1p(1000 T): a difference of 1 is a factor of ~e in T
    assert strong < mild < sharp and sharp - strong > 1.0


def test_angles_fold_to_half_turn() -> None:
    dx = np.array([1.0, -1.0, 0.0, 0.0, 1.0, -1.0])
    dy = np.array([0.0, 0.0, 1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(fold_angles(dx, dy), [0, 0, 90, 90, 45, 135], atol=1e-9)
    assert np.all(fold_angles(np.random.default_rng(0).normal(size=50), np.ones(50)) < 180)


def test_static_within_fifteen_degrees() -> None:
    a = np.array([0, 14.9, 16, 45, 76, 90, 104, 106, 166, 179])
    assert is_static(a).tolist() == [True, True, False, False, True, True, True, False, True, True]
