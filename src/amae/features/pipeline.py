"""``amae features``: fit what a modality needs, then run the extraction engine over all posts.

Text: Word2Vec, SIF's word frequencies and its common component are fitted only on the posts each
user made up to *their own* training cutoff (the time of their last fit or validation record; a
user with no training record contributes nothing), or on all posts when no split exists yet. The
model is saved under ``features/text/model`` with a manifest of what it was fitted on (text content,
split, config); a changed manifest refits it and re-extracts the text features, so features made
before a split, or under another split, are never reused.
Visual: the CNN and detectors are fixed; media are read relative to the dataset folder.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.data.io import DataError, write_json
from amae.data.provenance import Manifest, check, frame_digest, seal, stat_digest, unseal, upstream
from amae.data.workspace import load_workspace
from amae.features.extract import ExtractionReport, run_extraction
from amae.features.modalities import POST_MODALITIES
from amae.protocol.split import in_training_period

MODALITIES = tuple(POST_MODALITIES)  # the registered post modalities (features/modalities.py)


def _config(cls: type, values: dict[str, Any], where: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise DataError(f"{where}: unknown setting(s) {sorted(unknown)} (known: {sorted(known)})")
    return cls(**values)


def training_posts_mask(workspace: Path, post_user: np.ndarray, post_time: np.ndarray) -> tuple[np.ndarray, str]:
    """Posts in their author's training period (per user, :func:`in_training_period`), or all without a split."""
    path = Path(workspace) / "split" / "train_end.npy"
    if not path.exists():
        return np.ones(len(post_time), dtype=bool), "all posts (no split yet)"
    return in_training_period(post_user, post_time, np.load(path)), "posts up to each user's own training cutoff"


ENGINES = ("local", "dask")


def check_work_options(batch_size: int | None, n_jobs: int, engine: str) -> None:
    """How the work is cut and spread, checked before anything runs (one line naming the option)."""
    if batch_size is not None and batch_size < 1:
        raise DataError(f"--batch-size must be 1 or more posts per shard, got {batch_size}")
    if n_jobs < 1:
        raise DataError(f"--jobs must be 1 or more worker processes, got {n_jobs}")
    if engine not in ENGINES:
        raise DataError(f"--engine must be {' or '.join(ENGINES)}, got '{engine}'")


def extract_features(workspace: Path, modality: str, settings: dict[str, Any] | None = None, *,
                     batch_size: int | None = None, n_jobs: int = 1, engine: str = "local",
                     dask_address: str | None = None, progress: bool = True) -> ExtractionReport:
    """Extract one modality's per-post features into ``workspace/features/<modality>/``."""
    if modality not in MODALITIES:
        raise DataError(f"unknown modality '{modality}' (use {' or '.join(MODALITIES)})")
    check_work_options(batch_size, n_jobs, engine)
    settings = dict(settings or {})
    ds = load_workspace(workspace)
    if not ds.has_content:
        raise DataError(f"{workspace}: the dataset has no posts, so there are no {modality} features to extract")
    posts = ds.posts
    out_dir = Path(workspace) / "features" / modality
    if modality == "text":
        from amae.features.text import TextBatchExtractor, TextFeatureConfig

        cfg = _config(TextFeatureConfig, settings, "[features.text]")
        model_dir = ensure_text_model(Path(workspace), posts, cfg)
        extractor = TextBatchExtractor(model_dir, cfg)
        # The text model is an input: a refitted model (new texts, another split) re-extracts text_d.
        inputs = {"text_model": upstream(model_dir)}
        config_record = cfg.to_dict()
        batch_size = batch_size or 512
    else:
        from amae.features.visual import VisualBatchExtractor, VisualFeatureConfig

        cfg = _config(VisualFeatureConfig, settings, "[features.visual]")
        extractor = VisualBatchExtractor(ds.root, cfg)
        # Media bytes are many: they are fingerprinted by path, size and modification time.
        media = posts["media"].explode().dropna().astype(str)
        inputs = {"media": stat_digest(Path(ds.root) / m for m in media.tolist())}
        config_record = asdict(cfg)
        batch_size = batch_size or 64
        # Posts without media need no visual work: they get zeros and the "visual_none" flag.
    return run_extraction(posts, out_dir, extractor, modality=modality, batch_size=batch_size, n_jobs=n_jobs,
                          engine=engine, dask_address=dask_address, progress=progress, config=config_record,
                          inputs=inputs)


def ensure_text_model(workspace: Path, posts: pd.DataFrame, cfg: Any) -> Path:
    """Fit Word2Vec + SIF unless the saved model was fitted on exactly these texts, this split, this config."""
    from amae.features.text import fit_text_model
    from amae.features.text.deep import FORMAT_VERSION
    from amae.protocol.split import split_digest

    model_dir = Path(workspace) / "features" / "text" / "model"
    cols = ["post_idx", "user_idx", "timestamp", "text"]
    manifest = Manifest("text_model", {"texts": frame_digest(posts[cols]), "split": split_digest(workspace / "split")},
                        cfg.to_dict(), {"text_model": FORMAT_VERSION})
    if check(model_dir, manifest):
        unseal(model_dir)
        mask, corpus = training_posts_mask(workspace, posts["user_idx"].to_numpy(np.int64),
                                           posts["timestamp"].to_numpy(np.int64))
        try:
            fitted = fit_text_model(posts["text"][mask].tolist(), cfg)
        except ValueError as exc:  # too little text for Word2Vec: the user's data, not a crash
            raise DataError(f"{workspace}: cannot fit the text model on {int(mask.sum())} training post(s): {exc} "
                            "(lower [features.text] w2v_min_count, or add posts)") from None
        fitted.save(model_dir)
        write_json(model_dir / "corpus.json", {"corpus": corpus, "n_posts": int(mask.sum())})
        seal(model_dir, manifest)  # last: a half-fitted model is refitted
    return model_dir
