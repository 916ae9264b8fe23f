"""Per-post emotion vectors read at any (user, time): the ``emotions`` user content (UCFE).

The DUTIR lexicon columns of the ``text_h`` features: the 21 minor classes (``emo21_*``) when the
lexicon file was given at extraction, else the 7 major ones (``emo7_*``). A user's vector at time
``t`` is the mean over their posts in ``[t - window, t)``, or their training-period mean when that
window is empty (the paper's padding). Posts are sorted by (user, time) once
(:class:`~amae.content.store.ModalityPosts`), so a batch of cases costs the posts in its windows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from amae.content.kinds import UserContent, register_content
from amae.content.store import ModalityPosts
from amae.data.io import DataError
from amae.protocol.split import training_until


@register_content
@dataclass
class EmotionContent(UserContent):
    """Per-post emotion vectors and the per-user cutoff of their global (fallback) vector.

    ``post_user``/``post_time`` (n_posts,), ``post_emotion`` (n_posts, E) float32, ``global_until``
    (n_users,) int64: posts before it form a user's global vector, so test-period posts never leak.
    """

    kind: ClassVar[str] = "emotions"
    post_user: np.ndarray
    post_time: np.ndarray
    post_emotion: np.ndarray
    global_until: np.ndarray
    names: list[str]
    _store: ModalityPosts = field(init=False, repr=False)
    _global: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._store = ModalityPosts.from_posts(self.post_user, self.post_time, self.post_emotion)
        self._global = self._store.user_means(len(self.global_until), self.global_until)[0]

    @classmethod
    def build(cls, workspace: Path, dataset: Any, split: Any) -> EmotionContent:
        """Emotion columns of the workspace's ``text_h`` features, row-aligned with the posts table."""
        from amae.features.extract import load_group

        try:
            feats, meta = load_group(Path(workspace) / "features", "text_h")
        except FileNotFoundError as exc:
            raise DataError(f"{workspace}: UCFE needs text features (run 'amae features {workspace} "
                            f"--modality text')") from exc
        cols, names = emotion_columns(list(meta.get("names", [])), meta)
        posts = dataset.posts
        post_idx = posts["post_idx"].to_numpy(np.int64)
        if feats.shape[0] != len(posts) or (post_idx.size and post_idx.max() >= feats.shape[0]):
            raise DataError(f"{workspace}/features: text_h has {feats.shape[0]} rows but the dataset has "
                            f"{len(posts)} posts (re-run 'amae features')")
        emotion = np.asarray(feats[:, cols], dtype=np.float32)[post_idx]
        until = training_until(split.train_end, dataset.n_users)[: dataset.n_users]
        return cls(posts["user_idx"].to_numpy(np.int64), posts["timestamp"].to_numpy(np.int64), emotion, until, names)

    def at(self, users: np.ndarray, times: np.ndarray, window: int) -> np.ndarray:
        """(n, E) contextual emotion of each ``(user, time)``, padded with the global vector."""
        users = np.asarray(users, dtype=np.int64)
        lo, hi = self._store.window(users, times, window)
        out = self._store.range_means(lo, hi)
        empty = hi <= lo
        out[empty] = self._global[users[empty]]
        return out


def emotion_columns(names: list[str], meta: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """Columns of the 21 DUTIR minor classes when present, else the 7 major ones."""
    minor = [i for i, n in enumerate(names) if n.startswith("emo21_")]
    major = [i for i, n in enumerate(names) if n.startswith("emo7_")]
    present = meta.get("metadata", {}).get("emo21_present", meta.get("emo21_present", True))
    use = minor if (minor and present) else major
    if not use:
        raise DataError("text_h features have neither emo21_* nor emo7_* columns (re-run 'amae features')")
    return np.asarray(use, dtype=np.int64), [names[i] for i in use]
