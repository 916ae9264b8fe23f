"""``amae features``: fit what a modality needs, then run the extraction engine over all posts.

Text: Word2Vec and the SIF component are fitted on the posts of the training period (all posts
before the split's last training time, or all posts when no split exists yet) and saved under
``features/text/model`` so new posts are featurised exactly as in training.
Visual: the CNN and detectors are fixed; media are read relative to the dataset folder.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np

from amae.data.io import DataError, read_json, write_json
from amae.data.workspace import load_workspace
from amae.features.extract import ExtractionReport, run_extraction

MODALITIES = ("text", "visual")


def _config(cls: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise DataError(f"{where}: unknown setting(s) {sorted(unknown)} (known: {sorted(known)})")
    return cls(**values)


def _training_posts_mask(workspace: Path, post_time: np.ndarray) -> tuple[np.ndarray, str]:
    split_json = Path(workspace) / "split" / "train_end.npy"
    if split_json.exists():
        train_end = np.load(split_json)
        cutoff = int(train_end.max())
        return post_time <= cutoff, f"posts up to the end of the training period ({cutoff})"
    return np.ones(len(post_time), dtype=bool), "all posts (no split yet)"


def extract_features(workspace: Path, modality: str, settings: dict[str, Any] | None = None, *,
                     batch_size: int | None = None, n_jobs: int = 1, engine: str = "local",
                     dask_address: str | None = None, progress: bool = True) -> ExtractionReport:
    """Extract one modality's per-post features into ``workspace/features/<modality>/``."""
    if modality not in MODALITIES:
        raise DataError(f"unknown modality '{modality}' (use {' or '.join(MODALITIES)})")
    settings = dict(settings or {})
    ds = load_workspace(workspace)
    if not ds.has_content:
        raise DataError(f"{workspace}: the dataset has no posts, so there are no {modality} features to extract")
    posts = ds.posts
    out_dir = Path(workspace) / "features" / modality
    if modality == "text":
        from amae.features.text import TextBatchExtractor, TextFeatureConfig, fit_text_model

        cfg = _config(TextFeatureConfig, settings, "[features.text]")
        model_dir = out_dir / "model"
        stamp = {"config": cfg.to_dict(), "n_posts": len(posts)}
        if not (model_dir / "fitted.json").exists() or read_json(model_dir / "fitted.json") != stamp:
            mask, corpus = _training_posts_mask(workspace, posts["timestamp"].to_numpy(np.int64))
            fit_text_model(posts["text"][mask].tolist(), cfg).save(model_dir)
            write_json(model_dir / "fitted.json", stamp)
            write_json(model_dir / "corpus.json", {"corpus": corpus, "n_posts": int(mask.sum())})
        extractor = TextBatchExtractor(model_dir, cfg)
        config_record = cfg.to_dict()
        batch_size = batch_size or 512
    else:
        from amae.features.visual import VisualBatchExtractor, VisualFeatureConfig

        cfg = _config(VisualFeatureConfig, settings, "[features.visual]")
        extractor = VisualBatchExtractor(ds.root, cfg)
        config_record = asdict(cfg)
        batch_size = batch_size or 64
        # Posts without media need no visual work: they get zeros and the "visual_none" flag.
    return run_extraction(posts, out_dir, extractor, modality=modality, batch_size=batch_size, n_jobs=n_jobs,
                          engine=engine, dask_address=dask_address, progress=progress, config=config_record)
