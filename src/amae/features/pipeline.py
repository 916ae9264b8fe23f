"""``amae features``: fit what a modality needs, then run the extraction engine over all posts.

Text: Word2Vec, SIF's word frequencies and its common component are fitted only on the posts each
user made up to *their own* training cutoff (the time of their last fit or validation record; a
user with no training record contributes nothing), or on all posts when no split exists yet. The
model is saved under ``features/text/model`` with a stamp of what it was fitted on (text content,
split, config); a changed stamp refits it and re-extracts the text features, so features made
before a split, or under another split, are never reused.
Visual: the CNN and detectors are fixed; media are read relative to the dataset folder.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

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


def training_posts_mask(workspace: Path, post_user: np.ndarray, post_time: np.ndarray) -> tuple[np.ndarray, str]:
    """Posts in their author's training period: ``time <= train_end[user]`` (per user), or all without a split."""
    path = Path(workspace) / "split" / "train_end.npy"
    if not path.exists():
        return np.ones(len(post_time), dtype=bool), "all posts (no split yet)"
    train_end = np.load(path)
    user = np.asarray(post_user, dtype=np.int64)
    known = user < len(train_end)
    cutoff = np.full(len(user), np.iinfo(np.int64).min, dtype=np.int64)
    cutoff[known] = train_end[user[known]]
    return np.asarray(post_time, dtype=np.int64) <= cutoff, "posts up to each user's own training cutoff"


def _split_fingerprint(workspace: Path) -> str | None:
    folder = Path(workspace) / "split"
    if not (folder / "train_end.npy").exists():
        return None
    digest = hashlib.blake2b(digest_size=16)
    for name in ("train_end.npy", "split.json"):
        if (folder / name).exists():
            digest.update((folder / name).read_bytes())
    return digest.hexdigest()


def _text_fingerprint(posts: Any) -> str:
    hashed = pd.util.hash_pandas_object(posts[["post_idx", "user_idx", "timestamp", "text"]], index=False)
    return hashlib.blake2b(hashed.to_numpy().tobytes(), digest_size=16).hexdigest()


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
        stamp = {"config": cfg.to_dict(), "n_posts": len(posts), "texts": _text_fingerprint(posts),
                 "split": _split_fingerprint(workspace)}
        if not (model_dir / "fitted.json").exists() or read_json(model_dir / "fitted.json") != stamp:
            mask, corpus = training_posts_mask(workspace, posts["user_idx"].to_numpy(np.int64),
                                               posts["timestamp"].to_numpy(np.int64))
            fit_text_model(posts["text"][mask].tolist(), cfg).save(model_dir)
            write_json(model_dir / "corpus.json", {"corpus": corpus, "n_posts": int(mask.sum())})
            write_json(model_dir / "fitted.json", stamp)  # last: a half-fitted model is refitted
        extractor = TextBatchExtractor(model_dir, cfg)
        # The text model's stamp is part of the shards' config: a refitted model re-extracts text_d.
        config_record = {**cfg.to_dict(), "text_model": stamp}
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
