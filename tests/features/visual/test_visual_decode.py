"""Bad and unusual media: each either decodes to 8-bit BGR or fails with a reason, in bounded memory."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from amae.features.visual.decode import MediaError, load_image, resize_long_side, resize_to_pixels

MAX = 40_000_000


def save(img: Image.Image, path: Path, **kw: object) -> Path:
    img.save(path, **kw)
    return path


def huge_png(path: Path, side: int = 20_000) -> Path:
    """A valid side x side 1-bit PNG written row by row (the pixels never exist in memory)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (1 + side // 8)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").write_bytes(b"")
    with pytest.raises(MediaError, match="empty file"):
        load_image(tmp_path / "a.jpg", MAX)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8)).save(buf, "JPEG")
    (tmp_path / "t.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(MediaError, match="cannot decode|truncated"):
        load_image(tmp_path / "t.jpg", MAX)


def test_text_file_named_jpg(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_text("this is not a picture\n" * 10)
    with pytest.raises(MediaError, match="not a recognised image"):
        load_image(tmp_path / "x.jpg", MAX)


def test_huge_png_refused_by_header_in_bounded_memory(tmp_path: Path) -> None:
    path = huge_png(tmp_path / "huge.png")
    with pytest.raises(MediaError, match="too large"):
        load_image(path, MAX)
    # in a fresh process, so the peak RSS growth is this call's: decoding would take >= 400 MB
    code = (
        "import resource, sys; from pathlib import Path\n"
        "from amae.features.visual.decode import load_image, MediaError\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
        f"try:\n    load_image(Path({str(path)!r}), {MAX})\n"
        "except MediaError as e:\n    print('refused', e)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    out = proc.stdout.split()
    assert out[1] == "refused" and int(out[-1]) - int(out[0]) < 100, out


def test_oversized_jpeg_decoded_at_reduced_scale(tmp_path: Path) -> None:
    img = Image.fromarray(np.full((1600, 2400, 3), (200, 40, 10), np.uint8))
    path = save(img, tmp_path / "big.jpg", quality=90)
    out = load_image(path, max_pixels=500_000)
    assert out.shape[0] * out.shape[1] <= 500_000 and out.shape[0] * out.shape[1] >= 500_000 / 16
    assert out.shape[1] / out.shape[0] == pytest.approx(1.5, rel=0.02)
    np.testing.assert_allclose(out[out.shape[0] // 2, out.shape[1] // 2], (10, 40, 200), atol=6)  # BGR


def test_size_hints_decode_large_jpeg_at_reduced_scale_but_never_below(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (1600, 2400, 3), dtype=np.uint8))
    path = save(img, tmp_path / "big.jpg", quality=80)
    assert load_image(path, MAX).shape == (1600, 2400, 3)  # no hints: full decode
    out = load_image(path, MAX, min_long_side=640, min_pixels=200_000, min_short_side=256)
    assert out.shape == (800, 1200, 3)  # 1/4 would give a 600 px long side < 640
    out = load_image(path, MAX, min_pixels=20_000)
    assert out.shape == (200, 300, 3)  # 1/8, the strongest DCT reduction


def test_oversized_png_refused(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (1200, 1000)), tmp_path / "p.png")
    with pytest.raises(MediaError, match="too large"):
        load_image(path, max_pixels=1_000_000)


def test_greyscale(tmp_path: Path) -> None:
    out = load_image(save(Image.new("L", (30, 20), 77), tmp_path / "g.png"), MAX)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8 and np.all(out == 77)


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = save(Image.new("CMYK", (40, 30), (255, 0, 0, 0)), tmp_path / "c.jpg", quality=95)
    out = load_image(path, MAX)
    assert out.shape == (30, 40, 3)
    b, g, r = out[15, 20].astype(int)
    assert r < 40 and g > 200 and b > 200  # cyan


def test_sixteen_bit_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((10, 12), 32768, dtype=np.uint16)
    arr[:, 6:] = 65535
    path = save(Image.fromarray(arr), tmp_path / "d16.png")
    assert Image.open(path).mode.startswith("I")
    out = load_image(path, MAX)
    assert abs(int(out[0, 0, 0]) - 127) <= 1 and out[0, 11, 0] == 255


def test_alpha_png_composited_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 255  # red
    rgba[:, 5:, 3] = 255  # right half opaque, left half transparent
    out = load_image(save(Image.fromarray(rgba, "RGBA"), tmp_path / "a.png"), MAX)
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 9].tolist() == [0, 0, 255]


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    img = Image.new("P", (8, 8), 0)
    img.putpalette([0, 255, 0] + [0, 0, 0] * 255)
    path = save(img, tmp_path / "p.png", transparency=1)
    assert load_image(path, MAX)[0, 0].tolist() == [0, 255, 0]


def test_animated_gif_gives_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    out = load_image(path, MAX)
    assert out.shape == (16, 16, 3)
    b, g, r = out[8, 8].astype(int)
    assert r > 200 and b < 50 and g < 50


def test_webp(tmp_path: Path) -> None:
    out = load_image(save(Image.new("RGB", (20, 10), (0, 0, 255)), tmp_path / "w.webp", lossless=True), MAX)
    assert out[5, 5].tolist() == [255, 0, 0]


def test_resizing_helpers() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    h, w = resize_to_pixels(img, 200_000).shape[:2]
    assert abs(h * w - 200_000) < 1000 and w / h == pytest.approx(4 / 3, rel=0.01)
    assert resize_to_pixels(np.zeros((10, 20, 3), np.uint8), 200_000).shape[1] == 632  # small ones grow
    assert resize_long_side(img, 640) is img and resize_long_side(img, 200).shape[:2] == (150, 200)
