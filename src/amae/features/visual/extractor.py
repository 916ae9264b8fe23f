"""Per-post visual features for the extraction engine: :class:`VisualBatchExtractor`.

A post's visual vector is the mean over all its images and video key frames (docs/design.md sections 4.3-4.5).
Every medium that cannot be used is skipped and listed in ``failures``; a post left without any
usable medium gets zeros and the ``visual_none`` flag. The extractor is cheap to pickle: the CNN
is built lazily inside the worker process, once per process.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from amae.features.base import BatchResult
from amae.features.visual.config import VisualFeatureConfig
from amae.features.visual.decode import MediaError
from amae.features.visual.handcrafted import HANDCRAFTED_FEATURE_NAMES, handcrafted_features
from amae.features.visual.media import load_medium

if TYPE_CHECKING:
    from amae.features.visual.backbones import BackboneSpec

DETECTOR_NAME = "libfacedetection (yuface)"


def _backbones() -> ModuleType:
    """The backbones module, imported only when deep features are on (torch costs ~0.5 GB RSS)."""
    from amae.features.visual import backbones

    return backbones


@dataclass
class _PostMedia:
    """What one post's media yielded: per-frame handcrafted rows, CNN inputs, failures."""

    handcrafted: list[np.ndarray] = field(default_factory=list)
    cnn_inputs: list[np.ndarray] = field(default_factory=list)
    failures: list[dict] = field(default_factory=list)


def _media_list(value: object) -> list[str]:
    """Normalise a ``media`` cell (list, array, None/NaN, or a ``;``-separated string)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [p.strip() for p in value.split(";") if p.strip()]
    if isinstance(value, float) and np.isnan(value):
        return []
    return [str(p) for p in list(value)]  # type: ignore[call-overload]


class VisualBatchExtractor:
    """Picklable callable: posts frame -> :class:`BatchResult` with ``visual_h`` and/or ``visual_d``.

    ``dataset_root`` is the dataset folder the ``media`` paths are relative to. Construction is
    cheap and checks, in the calling process, that the backbone and its weights exist, so a missing
    ResNet-50 file fails before any worker starts.
    """

    def __init__(self, dataset_root: Path | str, config: VisualFeatureConfig | None = None) -> None:
        self.dataset_root = Path(dataset_root)
        self.config = config or VisualFeatureConfig()
        cfg = self.config
        self.feature_names: dict[str, list[str]] = {}
        self.metadata: dict = {
            "modality": "visual",
            "config": cfg.to_dict(),
            "aggregation": "mean over all images and video key frames (first, middle, last) of a post",
        }
        if cfg.handcrafted:
            self.feature_names["visual_h"] = list(HANDCRAFTED_FEATURE_NAMES)
            self.metadata.update(
                face_detector=DETECTOR_NAME,
                face_threshold=cfg.face_threshold,
                face_max_side=cfg.face_max_side,
                work_pixels=cfg.work_pixels,
            )
        if cfg.deep:
            spec = _backbones().get_backbone_spec(cfg.backbone)
            self.feature_names["visual_d"] = [f"{spec.name}_{i:04d}" for i in range(spec.dim)]
            self.metadata.update(
                backbone=spec.name,
                backbone_dim=spec.dim,
                backbone_weights=spec.weights_source(cfg),
                backbone_input=f"{spec.input_size}x{spec.input_size} centre crop",
            )

    # -- per post ----------------------------------------------------------------------------

    def _process_post(self, post_idx: int, media: list[str]) -> _PostMedia:
        """Decode every medium of one post and compute its per-frame features; never raises."""
        cfg = self.config
        out = _PostMedia()
        spec: BackboneSpec | None = _backbones().get_backbone_spec(cfg.backbone) if cfg.deep else None
        # The same hints whichever groups are on, so an image decodes identically in a
        # handcrafted-only, deep-only or combined run (Table III compares such runs).
        short = round(spec.input_size / _backbones().CROP_FRACTION) if spec is not None else 256
        hints = {"min_pixels": cfg.work_pixels, "min_long_side": cfg.face_max_side, "min_short_side": short}
        for rel in media:
            try:
                frames = load_medium(self.dataset_root, rel, cfg.max_pixels, **hints)
                for frame in frames:
                    # compute both groups before storing either, so they always cover the same frames
                    h = (
                        handcrafted_features(
                            frame,
                            work_pixels=cfg.work_pixels,
                            face_threshold=cfg.face_threshold,
                            face_max_side=cfg.face_max_side,
                            face_threads=cfg.face_threads,
                        )
                        if cfg.handcrafted
                        else None
                    )
                    c = _backbones().preprocess(frame, spec) if spec is not None else None
                    if h is not None:
                        out.handcrafted.append(h)
                    if c is not None:
                        out.cnn_inputs.append(c)
            except MediaError as err:
                out.failures.append({"post_idx": post_idx, "path": rel, "reason": str(err)})
            except Exception as err:  # noqa: BLE001 - a bad medium must never stop the run
                reason = f"{type(err).__name__}: {err}"
                out.failures.append({"post_idx": post_idx, "path": rel, "reason": reason})
        return out

    def _iter_posts(self, post_ids: np.ndarray, media: list[list[str]]) -> Iterator[_PostMedia]:
        """Per-post results in order; decoding runs on ``decode_threads`` threads when asked."""
        threads = self.config.decode_threads
        if threads <= 1:
            for pid, m in zip(post_ids, media, strict=True):
                yield self._process_post(int(pid), m)
            return
        window = max(threads * 4, 16)  # bounds the memory held by finished posts
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for start in range(0, len(media), window):
                yield from pool.map(
                    self._process_post,
                    [int(p) for p in post_ids[start : start + window]],
                    media[start : start + window],
                )

    # -- batch ---------------------------------------------------------------------------------

    def __call__(self, batch: pd.DataFrame) -> BatchResult:
        cfg = self.config
        n = len(batch)
        post_ids = batch["post_idx"].to_numpy() if "post_idx" in batch else np.arange(n)
        cells = batch["media"].tolist() if "media" in batch else [None] * n
        media = [_media_list(v) for v in cells]
        backbone = _backbones().load_backbone(cfg) if cfg.deep else None

        h_sum = np.zeros((n, len(HANDCRAFTED_FEATURE_NAMES)), dtype=np.float64) if cfg.handcrafted else None
        d_sum = np.zeros((n, backbone.dim), dtype=np.float64) if backbone is not None else None
        counts = np.zeros(n, dtype=np.int64)
        failures: list[dict] = []
        pending: list[np.ndarray] = []  # CNN inputs waiting for a full batch
        pending_owner: list[int] = []

        def flush() -> None:
            if not pending:
                return
            feats = backbone.embed(np.stack(pending))  # type: ignore[union-attr]
            np.add.at(d_sum, np.asarray(pending_owner), feats)
            pending.clear()
            pending_owner.clear()

        for row, result in enumerate(self._iter_posts(post_ids, media)):
            failures.extend(result.failures)
            k = len(result.handcrafted) if cfg.handcrafted else len(result.cnn_inputs)
            counts[row] = k
            if h_sum is not None and result.handcrafted:
                h_sum[row] = np.sum(result.handcrafted, axis=0)
            if backbone is not None:
                pending.extend(result.cnn_inputs)
                pending_owner.extend([row] * len(result.cnn_inputs))
                if len(pending) >= backbone.batch_size:
                    flush()
        if backbone is not None:
            flush()

        denom = np.maximum(counts, 1)[:, None]
        blocks: dict[str, np.ndarray] = {}
        if h_sum is not None:
            blocks["visual_h"] = (h_sum / denom).astype(np.float32)
        if d_sum is not None:
            blocks["visual_d"] = (d_sum / denom).astype(np.float32)
        return BatchResult(blocks=blocks, flags={"visual_none": counts == 0}, failures=failures)
