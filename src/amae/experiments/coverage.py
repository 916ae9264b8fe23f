"""Context coverage for Table I: how often a listen has any post in the window before it.

Whether contextual content can matter at all depends on it: if only 6% of the test listens have a
post in the previous 24 h, the contextual vector is the global one for 94% of them. Per modality
(a post counts for text when it has text, for visual when it has usable media), this gives the
share of fit, validation and test interactions whose window holds at least one such post, plus
posts per user, users with posts and media per post. Two binary searches per interaction over
(user, time)-sorted keys; no loop over interactions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.content.store import DEFAULT_WINDOW_SECONDS
from amae.data.contract import Dataset
from amae.data.ranges import window_counts
from amae.features.modalities import POST_MODALITIES
from amae.protocol.split import Split

#: below this share of test listens with a post in the window, the report warns
LOW_COVERAGE = 0.20


def carrying_posts(dataset: Dataset, workspace: Path | None) -> dict[str, np.ndarray]:
    """Per modality, a mask over ``dataset.posts`` of the posts that carry it.

    From the extraction flags when features exist (so unreadable media do not count), else from
    the posts table (non-empty text; at least one media path).
    """
    posts = dataset.posts
    out: dict[str, np.ndarray] = {}
    text = posts["text"].fillna("").astype(str).str.strip().str.len().to_numpy() > 0
    media = posts["media"].map(len).to_numpy() > 0
    for mod, fallback in (("text", text), ("visual", media)):
        mask = fallback
        flags_path = None if workspace is None else Path(workspace) / "features" / mod / "flags.parquet"
        if flags_path is not None and flags_path.exists():
            flags = pd.read_parquet(flags_path)
            if POST_MODALITIES[mod].missing_flag in flags.columns:
                missing = flags.set_index("post_idx")[POST_MODALITIES[mod].missing_flag].reindex(
                    posts["post_idx"].to_numpy(), fill_value=True).to_numpy(bool)
                mask = ~missing
        out[mod] = mask
    return out


def context_coverage(dataset: Dataset, split: Split, workspace: Path | None = None,
                     window: int = DEFAULT_WINDOW_SECONDS) -> dict[str, Any]:
    """``{modality: {"fit", "validation", "test", "posts per user", "users with posts", ...}}`` and warnings."""
    if dataset.posts is None or not len(dataset.posts):
        return {"modalities": {}, "warnings": [], "window_seconds": window}
    inter = dataset.interactions
    users = inter["user_idx"].to_numpy(np.int64)
    times = inter["timestamp"].to_numpy(np.int64)
    parts = {"fit": split.fit_rows, "validation": split.valid_rows, "test": split.test_rows}
    posts = dataset.posts
    post_user = posts["user_idx"].to_numpy(np.int64)
    post_time = posts["timestamp"].to_numpy(np.int64)
    n_media = posts["media"].map(len).to_numpy()
    out: dict[str, dict[str, float]] = {}
    warnings: list[str] = []
    for mod, mask in carrying_posts(dataset, workspace).items():
        entry: dict[str, float] = {}
        for part, rows in parts.items():
            counts = window_counts(post_user[mask], post_time[mask], users[rows], times[rows], window)
            entry[f"{part} listens with a post in the window"] = float((counts > 0).mean()) if len(rows) else 0.0
        entry["posts"] = int(mask.sum())
        entry["posts per user"] = float(mask.sum() / max(dataset.n_users, 1))
        entry["users with posts"] = int(len(np.unique(post_user[mask])))
        if mod == "visual":
            entry["media per post"] = float(n_media.mean()) if len(n_media) else 0.0
            entry["media per post with media"] = float(n_media[n_media > 0].mean()) if (n_media > 0).any() else 0.0
        out[mod] = entry
        test_share = entry["test listens with a post in the window"]
        if mask.any() and test_share < LOW_COVERAGE:
            warnings.append(f"{mod}: only {test_share:.1%} of test listens have a {mod} post in the "
                            f"{window // 3600} h before them; contextual {mod} content can matter for few cases")
        if not mask.any():
            warnings.append(f"{mod}: no post carries this modality; it is left out of every model")
    return {"modalities": out, "warnings": warnings, "window_seconds": window}
