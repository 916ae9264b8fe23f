"""Recent posts sent with a request: parse them, and featurise them exactly as in training.

A served AMAE model reacts to what the user posted in the last day. Those posts arrive as JSON
(``{"timestamp": ..., "text": ..., "media": [...]}``) and must become the same vectors the model was
trained on: the text groups come from the workspace's fitted text model (Word2Vec + SIF, lexicon
config recorded in ``features/text/text_h.json``), the visual groups from the visual extractor with
the recorded config. Groups are concatenated in the model's order, and posts that lack a modality
(empty text, no readable image) are left out of that modality, as :func:`amae.content.posts.load_posts`
does for stored posts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from amae.data.contract import TIME_RANGE, parse_timestamps
from amae.data.io import DataError, read_json
from amae.features.modalities import POST_MODALITIES

#: safety limits shared by the CLI and the HTTP API
MAX_POSTS = 50
MAX_TEXT_CHARS = 10_000
MAX_MEDIA_PER_POST = 10
#: a request with at most this many characters of text is featurised in one batch, in its own thread
#: (worst case, 1,000 characters of emoji: about 0.1 s); a longer one post by post under its time budget
LIGHT_TEXT_CHARS = 1_000
_ABS_PATH = re.compile(r"(?<![\w.])(?:/|[A-Za-z]:[\\/])[^\s'\":,;()]*")


def without_paths(reason: str, root: Path | None = None) -> str:
    """A skip reason fit for an answer: the media root and any other absolute path replaced."""
    if root is not None:
        for r in {str(root), str(Path(root).resolve())}:
            reason = reason.replace(r.rstrip("/") + "/", "").replace(r, "<media root>")
    return _ABS_PATH.sub("<path>", reason)


@dataclass
class RecentPost:
    """One post sent with a request; ``timestamp`` is unix seconds, or None: one second before the
    request's time (a request without a time needs every timestamp)."""

    timestamp: int | None
    text: str | None = None
    media: list[str] = field(default_factory=list)


def parse_time(value: Any, where: str = "time") -> int:
    """Unix seconds from an int/float, a numeric string or an ISO-8601 string in the accepted range
    (1970 to 2100); DataError naming ``where`` otherwise (NaN, inf, out of range, booleans)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise DataError(f"{where}: expected {TIME_RANGE}, got {_shown(value)}")
    secs, bad = parse_timestamps(pd.Series([value], dtype=object))
    if bad[0]:
        raise DataError(f"{where}: {_shown(value)} is not {TIME_RANGE}")
    return int(secs[0])


def _shown(value: Any) -> str:
    """A value for an error message: short, and never a float NaN/inf that JSON cannot carry."""
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def post_from_dict(obj: Any, where: str) -> RecentPost:
    """Validate one post object (fields ``timestamp``, ``text``, ``media``); errors name ``where``."""
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object with timestamp/text/media, got {type(obj).__name__}")
    unknown = set(obj) - {"timestamp", "text", "media"}
    if unknown:
        raise DataError(f"{where}: unknown field(s) {sorted(unknown)} (known: timestamp, text, media)")
    ts = obj.get("timestamp")
    text = obj.get("text")
    if text is not None and not isinstance(text, str):
        raise DataError(f"{where}, field 'text': expected a string, got {type(text).__name__}")
    if text is not None and len(text) > MAX_TEXT_CHARS:
        raise DataError(f"{where}, field 'text': {len(text)} characters (limit {MAX_TEXT_CHARS})")
    media = obj.get("media") or []
    if isinstance(media, str):
        media = [m for m in media.split(";") if m]
    if not isinstance(media, list) or not all(isinstance(m, str) for m in media):
        raise DataError(f"{where}, field 'media': expected a list of paths")
    if len(media) > MAX_MEDIA_PER_POST:
        raise DataError(f"{where}, field 'media': {len(media)} items (limit {MAX_MEDIA_PER_POST})")
    return RecentPost(None if ts is None else parse_time(ts, f"{where}, field 'timestamp'"), text, list(media))


def read_posts_jsonl(path: Path, require_timestamps: bool = False) -> list[RecentPost]:
    """Posts from a JSON Lines file (UTF-8, a leading BOM allowed; blank lines skipped); every problem
    names the file and line. ``require_timestamps`` (``amae recommend`` without ``--time``): a post
    without one is an error, as in the HTTP API; the wall clock is never guessed."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such posts file")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    posts = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {no}: not valid JSON ({exc.msg})") from None
        posts.append(post_from_dict(obj, f"{path}, line {no}"))
        if require_timestamps and posts[-1].timestamp is None:
            raise DataError(f"{path}, line {no}, field 'timestamp': required when no --time is given")
    if len(posts) > MAX_POSTS:
        raise DataError(f"{path}: {len(posts)} posts (limit {MAX_POSTS} recent posts per request)")
    return posts


@dataclass
class FeaturizedPosts:
    """Per modality: times and features ``(n, D)`` of the posts that carry it, plus notes."""

    times: dict[str, np.ndarray]
    features: dict[str, np.ndarray]
    notes: list[str] = field(default_factory=list)


class PostFeaturizer:
    """Featurises request posts with the workspace's fitted extractors for a model's feature groups.

    ``groups`` is the model's ``{modality: [group, ...]}`` (from its saved content source) and
    ``dims`` its input size per modality, checked so a mismatch fails loudly rather than scoring
    garbage. ``media_root`` is the folder request media paths are relative to; without it, media
    are ignored (a server must not read arbitrary paths a client names).
    """

    def __init__(self, workspace: Path, groups: dict[str, list[str]], dims: dict[str, int],
                 media_root: Path | None = None) -> None:
        self.workspace = Path(workspace)
        self.groups = {m: list(g) for m, g in groups.items()}
        self.dims = dict(dims)
        self.media_root = None if media_root is None else Path(media_root)
        self._text: Any = None
        self._blank: Any = None
        self._visual: Any = None
        #: a :class:`amae.serving.media_pool.MediaPool` (``amae serve``): media decoded out of process
        self.pool: Any = None
        #: a :class:`amae.serving.media_pool.TaskPool` (``amae serve``): long texts featurised out of process
        self.text_pool: Any = None
        #: text characters per request featurised in one batch, in the request's thread, whatever the budget
        self.light_text_chars = LIGHT_TEXT_CHARS

    def start_pools(self) -> None:
        """Decode media (with a media root) and featurise long texts in low-priority worker processes;
        the text worker starts now and loads the text model, so the first request does not wait for it."""
        from amae.serving.media_pool import MediaPool, TaskPool, extract_text

        if self.media_root is not None and self.pool is None:
            self.pool = MediaPool()
        if "text" in self.groups and self.text_pool is None:
            self.text_pool = TaskPool()
            self.text_pool.warm(extract_text, self._text_extractor(), None)
            self._blank_text()  # the server's own copy too, for short texts

    def _text_extractor(self) -> Any:
        if self._text is None:
            from amae.features.text import TextBatchExtractor, TextFeatureConfig

            folder = self.workspace / "features" / "text"
            meta_path = folder / "text_h.json"
            if not meta_path.exists():
                raise DataError(f"{folder}: no text features (run 'amae features {self.workspace} --modality text')")
            config = read_json(meta_path).get("metadata", {}).get("config", {})
            model_dir = folder / "model" if (folder / "model" / "model.json").exists() else None
            self._text = TextBatchExtractor(model_dir, TextFeatureConfig(**config))
        return self._text

    def _visual_extractor(self) -> Any:
        if self._visual is None:
            from amae.features.visual import VisualBatchExtractor
            from amae.features.visual.config import VisualFeatureConfig

            folder = self.workspace / "features" / "visual"
            meta = {}
            for g in ("visual_h", "visual_d"):
                if (folder / f"{g}.json").exists():
                    meta = read_json(folder / f"{g}.json").get("metadata", {})
                    break
            self._visual = VisualBatchExtractor(self.media_root, VisualFeatureConfig(**meta.get("config", {})))
        return self._visual

    def _text_until(self, frame: pd.DataFrame, deadline: float | None, notes: list[str]) -> Any:
        """Text features under the request's time budget: the posts newest first, while time remains.

        A request with at most ``light_text_chars`` characters of text is featurised in one batch
        (milliseconds); a longer one post by post, in the low-priority text worker when the server
        has one (``text_pool``: a post still running at the deadline is killed there), else here
        (the deadline is then checked between posts, and a post is not started when the slowest rate seen
        in the request says it would not fit). Posts not reached count as without text; a note says how many.
        """
        import time as clock

        from amae.serving.media_pool import extract_text

        extractor = self._text_extractor()
        texts = frame["text"].map(lambda t: len(t) if isinstance(t, str) else 0).to_numpy()
        todo = [int(i) for i in np.argsort(-frame["timestamp"].to_numpy(), kind="stable") if texts[i] > 0]
        if not todo:
            return extractor(frame)
        if deadline is None or int(texts.sum()) <= self.light_text_chars:
            if deadline is not None and clock.monotonic() > deadline:
                return self._text_parts(frame, {}, todo, notes)
            return extractor(frame)
        done: dict[int, Any] = {}
        per_char = 0.0  # the slowest seconds per character seen so far: a post that would not fit is not started
        for i in todo:
            start = clock.monotonic()
            left = deadline - start
            if left <= per_char * texts[i]:
                break
            row = frame.iloc[i : i + 1]
            part = extractor(row) if self.text_pool is None else self.text_pool.run(
                extract_text, extractor, row, timeout=left)
            if part is None:  # killed at the deadline
                break
            done[i] = part
            per_char = max(per_char, (clock.monotonic() - start) / texts[i])
        return self._text_parts(frame, done, todo, notes)

    def _blank_text(self) -> Any:
        """The text features of a post without text (one row), computed once: also loads the extractor."""
        if self._blank is None:
            self._blank = self._text_extractor()(pd.DataFrame({"post_idx": [0], "user_idx": [0], "timestamp": [0],
                                                                "text": [None], "media": [[]]}))
        return self._blank

    def _text_parts(self, frame: pd.DataFrame, done: dict[int, Any], todo: list[int], notes: list[str]) -> Any:
        """One batch result from the posts featurised one by one; the others as posts without text."""
        from amae.features.base import BatchResult

        skipped = len(todo) - len(done)
        if skipped:
            notes.append(f"text: time budget spent; the text of {skipped} of {len(todo)} post(s) was not read "
                         f"(posts are read newest first; {len(done)} read)")
        blank = self._blank_text()
        parts = [done.get(i, blank) for i in range(len(frame))]
        blocks = {g: np.concatenate([r.blocks[g] for r in parts]) for g in blank.blocks}
        flags = {f: np.concatenate([np.asarray(r.flags[f]) for r in parts]) for f in blank.flags}
        return BatchResult(blocks=blocks, flags=flags, failures=[])

    def _visual_until(self, frame: pd.DataFrame, deadline: float | None, notes: list[str]) -> Any:
        """Visual features post by post, stopping at ``deadline``: later posts count as without media."""
        import time as clock

        from amae.features.base import BatchResult

        extractor = self._visual_extractor()
        parts, skipped = [], 0
        for i in range(len(frame)):
            row = frame.iloc[i : i + 1]
            if deadline is not None and clock.monotonic() > deadline and len(row["media"].iloc[0]):
                skipped += 1
                row = row.assign(media=[[]])
            if self.pool is not None and len(row["media"].iloc[0]):
                parts.append(self.pool.extract(extractor, row))  # decoded in the low-priority worker
            else:
                parts.append(extractor(row))
        if skipped:
            notes.append(f"visual: time budget spent; the media of {skipped} post(s) were not read")
        blocks = {g: np.concatenate([r.blocks[g] for r in parts]) for g in parts[0].blocks}
        flags = {f: np.concatenate([np.asarray(r.flags[f]) for r in parts]) for f in parts[0].flags}
        return BatchResult(blocks=blocks, flags=flags, failures=[f for r in parts for f in r.failures])

    def __call__(self, posts: list[RecentPost], default_time: int, deadline: float | None = None) -> FeaturizedPosts:
        times = np.asarray([default_time - 1 if p.timestamp is None else p.timestamp for p in posts], np.int64)
        frame = pd.DataFrame({"post_idx": np.arange(len(posts), dtype=np.int64),
                              "user_idx": np.zeros(len(posts), np.int64), "timestamp": times,
                              "text": [p.text for p in posts], "media": [list(p.media) for p in posts]})
        out = FeaturizedPosts({}, {})
        for mod, names in self.groups.items():
            keep = np.ones(len(posts), dtype=bool)
            if mod == "text":
                result = self._text_until(frame, deadline, out.notes)
            elif mod == "visual":
                has_media = frame["media"].map(len).to_numpy() > 0
                if not has_media.any():
                    result = None
                elif self.media_root is None:
                    out.notes.append(f"visual: {int(has_media.sum())} post(s) with media ignored (no media root "
                                     "configured); the visual context comes from stored posts or the global vector")
                    result = None
                else:
                    result = self._visual_until(frame, deadline, out.notes)
                    if result.failures:
                        reason = without_paths(str(result.failures[0].get("reason")), self.media_root)
                        out.notes.append(f"visual: {len(result.failures)} medium/media unreadable and skipped "
                                         f"(first: {reason})")
                if result is None:
                    out.times[mod] = np.zeros(0, np.int64)
                    out.features[mod] = np.zeros((0, self.dims[mod]), np.float32)
                    continue
            else:  # pragma: no cover - GROUPS only knows text and visual
                raise DataError(f"cannot featurise modality '{mod}' for new posts")
            missing = [g for g in names if g not in result.blocks]
            if missing:
                raise DataError(f"{self.workspace}/features/{mod}: the extractor does not produce {missing} "
                                "(was the model trained with another feature config?)")
            feats = np.concatenate([np.asarray(result.blocks[g], np.float32) for g in names], axis=1)
            if feats.shape[1] != self.dims[mod]:
                raise DataError(f"{mod}: new posts give {feats.shape[1]} features but the model expects "
                                f"{self.dims[mod]} (features re-extracted after training?)")
            flag = result.flags.get(POST_MODALITIES[mod].missing_flag)
            if flag is not None:
                keep &= ~np.asarray(flag, dtype=bool)
            keep &= np.isfinite(feats).all(axis=1)
            out.times[mod] = times[keep]
            out.features[mod] = feats[keep]
        return out
