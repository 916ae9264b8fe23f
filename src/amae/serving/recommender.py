"""``recommend``: top-k tracks for one user, scored in one (1 x n_items) block, with an explanation.

For AMAE models the user's context is the posts of ``[t - window, t)``: the posts stored in the
workspace plus any recent posts sent with the request. The request posts are featurised with the
workspace's fitted extractors and put into a one-user copy of the model's :class:`ContextEncoder`
(same global cutoffs, window, standardisers and global vectors; it costs O(that user's posts),
found by binary search in the store), and the model is scored through a shallow copy that holds
that encoder, so the loaded model is never mutated, concurrent requests cannot see each other's
posts, and no lock serialises reads. The explanation is the attention weight of the global and the contextual code
per modality for every recommended track (Eq. 10-12), plus how many posts formed the context.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import numpy as np

from amae.data.io import DataError
from amae.models.content import ContextEncoder
from amae.serving.bundle import ModelBundle
from amae.serving.posts import MAX_POSTS, RecentPost

_INT64_MIN = np.iinfo(np.int64).min


class UnknownUserError(DataError):
    """The user id is not in the workspace and no posts were given to fall back on."""


def _iso(t: int | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, tz=UTC).isoformat()


def _top_k(scores: np.ndarray, exclude: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best scores, best first, ties broken by item index; excluded items never."""
    s = scores.astype(np.float64, copy=True)
    s[exclude] = -np.inf
    n_ok = int(np.isfinite(s).sum())
    k = min(k, n_ok)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    cand = np.argpartition(-s, k - 1)[:k] if k < len(s) else np.arange(len(s))
    order = np.lexsort((cand, -s[cand]))
    return cand[order].astype(np.int64)


def recommend(bundle: ModelBundle, user_id: str | int, k: int = 10, time: int | None = None,
              recent_posts: list[RecentPost] | None = None, include_played: bool = False,
              deadline: float | None = None) -> dict[str, Any]:
    """Top-``k`` tracks for ``user_id`` at ``time`` (unix seconds) with an explanation.

    Returns ``{"user_id", "model", "time", "time_iso", "score_kind", "items": [{rank, item_id, title,
    artist, score, logit, attention}], "explanation": {kind, context, notes}}``; ``score`` is the
    predicted probability of a play for logit models (``score_kind`` says which); ``attention`` is
    ``{modality: {"global": a, "contextual": b}}`` for AMAE models and None otherwise. Default time:
    one second after the latest request post, else after the user's latest stored post.
    ``deadline`` (``time.monotonic()`` seconds): media not decoded by then are skipped, with a note.
    """
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    posts = list(recent_posts or [])
    if len(posts) > MAX_POSTS:
        raise DataError(f"{len(posts)} recent posts (limit {MAX_POSTS})")
    user = int(bundle.dataset.users.encode([str(user_id)])[0])
    notes: list[str] = []
    if time is None:
        stamped = [p.timestamp for p in posts if p.timestamp is not None]
        if stamped:
            time = max(stamped) + 1
        elif posts:
            time = int(datetime.now(tz=UTC).timestamp())
        elif user >= 0 and bundle.last_post_time[user] != _INT64_MIN:
            time = int(bundle.last_post_time[user]) + 1
    played = bundle.played(user) if user >= 0 else np.zeros(0, np.int64)
    cold = user < 0 or len(played) == 0
    if user < 0 and not posts:
        raise UnknownUserError(f"unknown user '{user_id}' (not in {bundle.workspace}/data/users.json); "
                               "send recent posts for a popularity-based cold-start answer")

    all_items = np.arange(bundle.n_items, dtype=np.int64)
    attention: dict[str, np.ndarray] | None = None
    context: dict[str, Any] = {}
    if cold:
        kind = "popularity"
        scores = bundle.popularity.copy()
        notes.append(("user not in the training data" if user < 0 else "user has no training history")
                     + "; tracks ranked by training popularity (this model has no content-only scoring)")
        if posts:
            notes.append(f"{len(posts)} recent post(s) received but not used by the popularity fallback")
    elif bundle.is_content_model:
        kind = "attention"
        model = bundle.model
        encoder: ContextEncoder = model.encoder
        new_times: dict[str, np.ndarray] = {}
        new_feats: dict[str, np.ndarray] = {}
        if posts and bundle.featurizer is not None:
            fp = bundle.featurizer(posts, int(time if time is not None else 0), deadline=deadline)
            new_times, new_feats = fp.times, fp.features
            notes.extend(fp.notes)
            control = (getattr(model, "source", {}) or {}).get("control", "none")
            if control != "none":
                notes.append(f"model trained as a {control} control: request posts do not match it")
        # No lock: the encoder is read-only (range reads of the store) and a request's posts live in
        # a one-user copy (O(that user's posts)), so requests never see each other's posts.
        scoring, enc = model, encoder
        if posts:
            enc = encoder.for_user(user, new_times, new_feats, at=time)
            scoring = copy.copy(model)
            scoring.encoder = enc
        times = None if time is None else np.asarray([time], dtype=np.int64)
        scores = scoring.score(np.asarray([user]), all_items[None, :], times)[0]
        top = _top_k(scores, np.zeros(0, np.int64) if include_played else played, k)
        try:
            attention = {m: w[0] for m, w in scoring.explain(np.asarray([user]), top[None, :], times).items()}
        except ValueError as exc:  # no_attention ablation: nothing to explain
            notes.append(str(exc))
            attention = None
        counts = enc.context_counts(user, time) if time is not None else {m: 0 for m in enc.modalities}
        new_in_window = {m: int(((t >= time - enc.window) & (t < time)).sum()) if time is not None else 0
                         for m, t in new_times.items()}
        for m in enc.modalities:
            fallback = counts[m] == 0
            context[m] = {"posts_in_window": counts[m], "request_posts_in_window": new_in_window.get(m, 0),
                          "fallback_to_global": fallback}
            if fallback:
                notes.append(f"{m}: no post in the {enc.window // 3600} h before {_iso(time) or 'the request'}; "
                             "the contextual input is the user's global vector")
        if time is None:
            notes.append("no time and no posts: contextual inputs are the global vectors")
    else:
        kind = "collaborative"
        times = None if time is None else np.asarray([time], dtype=np.int64)
        scores = bundle.model.score(np.asarray([user]), all_items[None, :], times)[0]
        notes.append("collaborative model: scores come from listening history only, no attention to explain")
        if posts:
            notes.append(f"{len(posts)} recent post(s) received but this model does not read posts")
    if kind != "attention":
        top = _top_k(scores, np.zeros(0, np.int64) if include_played else played, k)

    info = bundle.item_table.iloc[top]
    # A logit model's score is shown as the probability it predicts (sigmoid, Eq. 13); the raw logit
    # stays beside it. Popularity and UCFE scores are counts and votes, shown as they are.
    is_logit = kind != "popularity" and bool(getattr(bundle.model, "score_is_logit", False))
    items = []
    for rank, (idx, row) in enumerate(zip(top, info.itertuples(index=False), strict=True), start=1):
        att = None if attention is None else {m: {"global": float(w[rank - 1, 0]), "contextual": float(w[rank - 1, 1])}
                                              for m, w in attention.items()}
        raw = float(scores[idx])
        items.append({"rank": rank, "item_id": str(row.item_id), "title": str(row.title), "artist": str(row.artist),
                      "score": float(1.0 / (1.0 + np.exp(-raw))) if is_logit else raw,
                      "logit": raw if is_logit else None, "attention": att})
    if len(items) < k:
        notes.append(f"only {len(items)} tracks left after excluding the {len(played)} already played")
    return {"user_id": str(user_id), "model": bundle.name, "time": time, "time_iso": _iso(time), "items": items,
            "score_kind": "probability" if is_logit else ("popularity" if kind == "popularity" else "score"),
            "explanation": {"kind": kind, "recent_posts": len(posts), "context": context, "notes": notes}}
