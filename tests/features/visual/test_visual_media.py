"""Media paths: refuse everything that leaves the dataset folder; kinds by extension."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amae.features.visual.decode import MediaError
from amae.features.visual.media import load_medium, media_kind, resolve_media_path


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "dataset"
    (r / "img").mkdir(parents=True)
    Image.new("RGB", (10, 10), (1, 2, 3)).save(r / "img" / "a.png")
    (tmp_path / "secret.png").write_bytes((r / "img" / "a.png").read_bytes())
    return r


def test_inside_path_resolves(root: Path) -> None:
    assert resolve_media_path(root, "img/a.png") == (root / "img" / "a.png").resolve()
    assert load_medium(root, "img/a.png", 10**6)[0][0, 0].tolist() == [3, 2, 1]


@pytest.mark.parametrize(
    ("rel", "reason"),
    [
        ("../secret.png", "'..'"),
        ("img/../../secret.png", "'..'"),
        ("/etc/passwd.png", "absolute"),
        ("C:\\x\\y.png", "absolute"),
        ("", "empty"),
        ("img/missing.png", "missing"),
    ],
)
def test_refused_paths(root: Path, rel: str, reason: str) -> None:
    with pytest.raises(MediaError, match=reason):
        resolve_media_path(root, rel)


def test_symlink_outside_refused_inside_allowed(root: Path) -> None:
    os.symlink(root.parent / "secret.png", root / "img" / "out.png")
    os.symlink(root / "img" / "a.png", root / "img" / "in.png")
    with pytest.raises(MediaError, match="symlink"):
        resolve_media_path(root, "img/out.png")
    assert resolve_media_path(root, "img/in.png").name == "a.png"


def test_kinds_by_extension() -> None:
    assert [media_kind(p) for p in ["a.JPG", "b.jpeg", "c.png", "d.webp", "e.gif"]] == ["image"] * 5
    assert [media_kind(p) for p in ["a.mp4", "b.MOV", "c.webm"]] == ["video"] * 3
    for bad in ["a.bmp", "noext", "x.txt"]:
        with pytest.raises(MediaError, match="unsupported extension"):
            media_kind(bad)


def test_medium_is_never_larger_than_allowed(root: Path) -> None:
    Image.fromarray(np.zeros((100, 100, 3), np.uint8)).save(root / "img" / "b.png")
    with pytest.raises(MediaError, match="too large"):
        load_medium(root, "img/b.png", 5_000)
