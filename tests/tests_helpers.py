"""Small shared builders for tests (kept tiny so the suite stays fast)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def toy_world_interactions(n_users: int = 60, n_items: int = 150, per_user: int = 25,
                           seed: int = 0) -> tuple[pd.DataFrame, int, int]:
    """Users in two taste groups so collaborative models have something to learn."""
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(n_users), per_user)
    group = users % 2
    items = np.where(rng.random(len(users)) < 0.8, group * (n_items // 2) + rng.integers(0, n_items // 2, len(users)),
                     rng.integers(0, n_items, len(users)))
    inter = pd.DataFrame({"user_idx": users, "item_idx": items, "timestamp": rng.integers(0, 10**6, len(users))})
    return inter, n_users, n_items


def text_workspace(root: Path, n_users: int, n_days: int, **world: Any) -> Path:
    """A synthetic world (text posts only) ingested, split (seed 0) and with text and visual features.

    No post has media, so the visual modality has no data: content models leave it out. ``world``:
    further ``WorldConfig`` fields (``realistic_text=True`` for posts of realistic length).
    """
    from amae.data.synthetic import WorldConfig, generate_world
    from amae.data.workspace import ingest
    from amae.features.pipeline import extract_features
    from amae.protocol.split import split_interactions

    generate_world(root / "world", WorldConfig(n_users=n_users, n_days=n_days, image_share=0.0, n_videos=0, **world))
    ws = root / "ws"
    dataset = ingest(root / "world", ws)
    split_interactions(dataset.interactions, dataset.n_items, seed=0).save(ws / "split")
    extract_features(ws, "text", {}, n_jobs=1, progress=False)
    extract_features(ws, "visual", {}, n_jobs=1, progress=False)
    return ws


def run_cli(*args: object) -> tuple[int, str]:
    """``amae ARGS`` in-process (typer's runner): exit code and everything it printed."""
    from typer.testing import CliRunner

    from amae.cli import app

    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def one_line_error(code: int, output: str, *needles: str) -> None:
    """A user mistake: exit code 2, one line, no traceback, naming each of ``needles``."""
    assert code == 2, output
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) == 1, output
    for needle in needles:
        assert needle in output, (needle, output)


def as_counts(df: Any) -> Any:
    """``text_h`` with its log-count columns read back as counts (version 4 stores log(1 + count)),
    so tests of counting can say "3 emoji" rather than "log 4"."""
    import numpy as np

    from amae.features.text.handcrafted import LOG_COUNT_COLUMNS

    cols = [c for c in LOG_COUNT_COLUMNS if c in df.columns]
    out = df.copy()
    out[cols] = np.rint(np.expm1(out[cols].to_numpy(np.float64)))
    return out
