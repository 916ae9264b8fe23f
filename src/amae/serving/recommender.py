"""``recommend``: top-k tracks for one user, scored in one (1 x n_items) block, with an explanation.

For AMAE models the user's context is the posts of ``[t - window, t)``: the posts stored in the
workspace plus any recent posts sent with the request. The request posts are featurised with the
workspace's fitted extractors and put into a one-user copy of the model's :class:`ContextEncoder`
(same global cutoffs, window, standardisers and global vectors; it costs O(that user's posts),
found by binary search in the store), and the model is scored through a shallow copy that holds
that encoder, so the loaded model is never mutated, concurrent requests cannot see each other's
posts, and no lock serialises reads. The explanation is the attention weight of the global and the contextual code
per modality for every recommended track (Eq. 10-12), plus how many posts formed the context.

A user without history (unknown to the model, or without training plays) who sends posts is
ranked by a content model from those posts alone (``AMAEBase.score_content_only``: the average
trained listener moved by what the posts say; explanation kind "content"); without posts, or
with a collaborative model, such a user gets the training popularity.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from amae.content.posts import ContextEncoder
from amae.data.io import DataError
from amae.serving.bundle import ModelBundle
from amae.serving.posts import MAX_POSTS, RecentPost

_INT64_MIN = np.iinfo(np.int64).min

#: modality name -> array (request post times, or their feature rows)
_PerModality = dict[str, np.ndarray]


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
    one second after the latest request post, else after the user's latest stored post. A post
    without a timestamp is placed one second before ``time``; without ``time`` every post needs one
    (DataError otherwise: the wall clock is never guessed). ``deadline`` (``time.monotonic()``
    seconds): texts not featurised and media not decoded by then are skipped, with a note.
    """
    if k < 1:
        raise DataError(f"k must be at least 1, got {k}")
    posts = list(recent_posts or [])
    if len(posts) > MAX_POSTS:
        raise DataError(f"{len(posts)} recent posts (limit {MAX_POSTS})")
    untimed = [i for i, p in enumerate(posts) if p.timestamp is None] if time is None else []
    if untimed:
        raise DataError(f"recent post {untimed[0]} (of {len(posts)}): 'timestamp' is required when no time is given")
    user = int(bundle.dataset.users.encode([str(user_id)])[0])
    notes: list[str] = []
    if time is None:
        time = _default_time(bundle, user, posts)
    played = bundle.played(user) if user >= 0 else np.zeros(0, np.int64)
    if user < 0 and not posts:
        raise UnknownUserError(f"unknown user '{user_id}' (not in {bundle.workspace}/data/users.json); "
                               "send recent posts for a popularity-based cold-start answer")
    exclude = np.zeros(0, np.int64) if include_played else played
    if (user < 0 or len(played) == 0) and posts and bundle.is_content_model:
        ranking = _rank_from_content(bundle, user, time, posts, exclude, k, deadline, notes)
    elif user < 0 or len(played) == 0:
        ranking = _rank_by_popularity(bundle, user, posts, exclude, k, notes)
    elif bundle.is_content_model:
        ranking = _rank_with_attention(bundle, user, time, posts, exclude, k, deadline, notes)
    else:
        ranking = _rank_collaborative(bundle, user, time, posts, exclude, k, notes)
    # A logit model's score is shown as the probability it predicts (sigmoid, Eq. 13); the raw logit
    # stays beside it. Popularity and UCFE scores are counts and votes, shown as they are.
    is_logit = ranking.kind != "popularity" and bool(getattr(bundle.model, "score_is_logit", False))
    items = _item_rows(bundle, ranking, is_logit)
    if len(items) < k:
        notes.append(f"only {len(items)} tracks left after excluding the {len(played)} already played")
    score_kind = "probability" if is_logit else ("popularity" if ranking.kind == "popularity" else "score")
    return {"user_id": str(user_id), "model": bundle.name, "time": time, "time_iso": _iso(time), "items": items,
            "score_kind": score_kind,
            "explanation": {"kind": ranking.kind, "recent_posts": len(posts), "context": ranking.context,
                            "posts_changed": ranking.effect, "notes": notes}}


@dataclass
class _Ranking:
    """What one scoring path hands back to :func:`recommend`: enough to build the items and explanation.

    ``kind`` is the explanation kind ("popularity", "attention", "content" or "collaborative"), ``scores`` the
    raw (1 x n_items) row, ``top`` the recommended item indices best first, ``attention`` the
    per-modality ``(len(top), 2)`` weights (AMAE only) and ``context`` the per-modality window report.
    """

    kind: str
    scores: np.ndarray
    top: np.ndarray
    attention: dict[str, np.ndarray] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    #: what the request's posts changed in the top k (content models with request posts)
    effect: dict[str, Any] | None = None
    #: per recommended track: rank without the posts, logit change, the modality that moved it most
    per_item: list[dict[str, Any]] | None = None


def _default_time(bundle: ModelBundle, user: int, posts: list[RecentPost]) -> int | None:
    """The request time when none is given: just after the newest evidence of the user.

    One second after the latest request post (so that post is inside ``[t - window, t)``; every post
    has a timestamp here), else one second after the user's latest stored post; None when there is
    nothing to go on (contextual inputs then fall back to the global vectors).
    """
    stamped = [p.timestamp for p in posts if p.timestamp is not None]
    if stamped:
        return max(stamped) + 1
    if user >= 0 and bundle.last_post_time[user] != _INT64_MIN:
        return int(bundle.last_post_time[user]) + 1
    return None


def _all_items_row(bundle: ModelBundle) -> np.ndarray:
    """``(1, n_items)`` candidate row: every track is scored, in one block, for a full ranking."""
    return np.arange(bundle.n_items, dtype=np.int64)[None, :]


def _rank_by_popularity(bundle: ModelBundle, user: int, posts: list[RecentPost], exclude: np.ndarray, k: int,
                        notes: list[str], why: str | None = None) -> _Ranking:
    """Cold start without content: a user the model has no row (or no history) for gets the training popularity.

    A collaborative model cannot read posts, and a content model given none (or none it could
    read in the window, ``why``) has nothing to rank from; the notes say which, rather than
    pretending the posts were used.
    """
    scores = bundle.popularity.copy()
    if why is None:
        why = ("send recent posts to be ranked from what they say" if bundle.is_content_model
               else "this model has no content-only scoring: it cannot read posts")
    notes.append(("user not in the training data" if user < 0 else "user has no training history")
                 + f"; tracks ranked by training popularity ({why})")
    if posts:
        notes.append(f"{len(posts)} recent post(s) received but not used by the popularity fallback")
    return _Ranking("popularity", scores, _top_k(scores, exclude, k))


def _rank_from_content(bundle: ModelBundle, user: int, time: int | None, posts: list[RecentPost],
                       exclude: np.ndarray, k: int, deadline: float | None, notes: list[str]) -> _Ranking:
    """Cold start for a content model: a user without a trained row is ranked from the posts alone.

    The request posts join a one-user copy of the encoder (:meth:`ContextEncoder.for_user`, as a
    known user's do; an unknown user gets an index no stored post has) and the model scores the
    catalogue with :meth:`AMAEBase.score_content_only`: the average trained listener moved by what
    the window's posts say. With no post readable in the window there is nothing to move it, so
    the answer is the popularity fallback. Against that list the explanation says what the posts
    changed (``rank_without_posts`` is the popularity rank).
    """
    model = bundle.model
    new_times, new_feats = _featurize_request_posts(bundle, posts, time, deadline, notes)
    slot = user if user >= 0 else model.encoder.n_users
    enc = model.encoder.for_user(slot, new_times, new_feats, at=time)
    counts = enc.context_counts(slot, time) if time is not None else {}
    if not any(counts.values()):
        hours = enc.window // 3600
        return _rank_by_popularity(bundle, user, posts, exclude, k, notes,
                                   f"none of the {len(posts)} post(s) could be read in the {hours} h before the time")
    scores, weights = model.score_content_only(np.asarray([slot]), _all_items_row(bundle),
                                               np.asarray([time], dtype=np.int64), enc)
    scores = scores[0]
    top = _top_k(scores, exclude, k)
    attention = {m: w[0, top] for m, w in weights.items()} or None
    who = "unknown user" if user < 0 else "user has no training history"
    notes.append(f"{who}: ranked from the {len(posts)} post(s) sent (content only), not from listening history")
    context = _context_report(enc, slot, time, new_times, notes, padding="an average listener's")
    popular = _top_k(bundle.popularity, exclude, k)
    effect = _posts_effect(bundle, popular, top, attention, notes, " (without posts: the most popular tracks)")
    return _Ranking("content", scores, top, attention, context, effect, _popularity_ranks(bundle, top, exclude))


def _popularity_ranks(bundle: ModelBundle, top: np.ndarray, exclude: np.ndarray) -> list[dict[str, Any]]:
    """Per recommended track its rank in the popularity fallback, the list a cold-start user gets
    without posts (one sort, as :func:`_per_item_change`); no logit to compare against."""
    allowed = np.ones(bundle.n_items, dtype=bool)
    allowed[exclude] = False
    ordered = np.sort(bundle.popularity[allowed])
    rank = 1 + len(ordered) - np.searchsorted(ordered, bundle.popularity[top], side="right")
    return [{"rank_without_posts": int(r), "logit_change": None, "moved_most_by": None} for r in rank]


def _rank_collaborative(bundle: ModelBundle, user: int, time: int | None, posts: list[RecentPost],
                        exclude: np.ndarray, k: int, notes: list[str]) -> _Ranking:
    """Score with a model that reads only listening history (MF, DMF, UCFE, ...): nothing to explain."""
    times = None if time is None else np.asarray([time], dtype=np.int64)
    scores = bundle.model.score(np.asarray([user]), _all_items_row(bundle), times)[0]
    notes.append("collaborative model: scores come from listening history only, no attention to explain")
    if posts:
        notes.append(f"{len(posts)} recent post(s) received but this model does not read posts")
    return _Ranking("collaborative", scores, _top_k(scores, exclude, k))


def _rank_with_attention(bundle: ModelBundle, user: int, time: int | None, posts: list[RecentPost],
                         exclude: np.ndarray, k: int, deadline: float | None, notes: list[str]) -> _Ranking:
    """Score a content (AMAE) model with the request's posts in context, and explain the top ``k``.

    The explanation is asked only for the recommended tracks: ``explain`` runs the forward pass
    again, and the weights of tracks nobody is shown are not worth a second catalogue-wide pass.
    """
    model = bundle.model
    new_times, new_feats = _featurize_request_posts(bundle, posts, time, deadline, notes)
    scoring, enc = _scoring_view(model, user, posts, new_times, new_feats, time)
    times = None if time is None else np.asarray([time], dtype=np.int64)
    scores = scoring.score(np.asarray([user]), _all_items_row(bundle), times)[0]
    top = _top_k(scores, exclude, k)
    try:
        attention = {m: w[0] for m, w in scoring.explain(np.asarray([user]), top[None, :], times).items()}
    except ValueError as exc:  # no_attention ablation: nothing to explain
        notes.append(str(exc))
        attention = None
    context = _context_report(enc, user, time, new_times, notes)
    if time is None:
        notes.append("no time and no posts: contextual inputs are the global vectors")
    effect, per_item = None, None
    if scoring is not model:  # the same request without its posts: what did they change?
        base = model.score(np.asarray([user]), _all_items_row(bundle), times)[0]
        effect = _posts_effect(bundle, _top_k(base, exclude, k), top, attention, notes)
        per_item = _per_item_change(model, user, time, top, scores, base, exclude, new_times, new_feats)
    return _Ranking("attention", scores, top, attention, context, effect, per_item)


def _per_item_change(model: Any, user: int, time: int | None, top: np.ndarray,
                     scores: np.ndarray, base: np.ndarray, exclude: np.ndarray, new_times: _PerModality,
                     new_feats: _PerModality) -> list[dict[str, Any]]:
    """For each recommended track: its rank without the request's posts, the change of its logit,
    and the modality whose posts alone moved it most (one more catalogue pass per modality)."""
    allowed = np.ones(len(base), dtype=bool)
    allowed[exclude] = False
    ordered = np.sort(base[allowed])  # rank = 1 + tracks scored above: one sort, not a (k, catalogue) matrix
    rank_without = 1 + len(ordered) - np.searchsorted(ordered, base[top], side="right")
    times = None if time is None else np.asarray([time], dtype=np.int64)
    moved_by: dict[str, np.ndarray] = {}
    for m in new_times:
        alone = copy.copy(model)
        alone.encoder = model.encoder.for_user(user, {m: new_times[m]}, {m: new_feats[m]}, at=time)
        moved_by[m] = alone.score(np.asarray([user]), top[None, :], times)[0] - base[top]
    out = []
    for j, item in enumerate(top):
        most = max(moved_by, key=lambda m: abs(moved_by[m][j])) if moved_by else None
        out.append({"rank_without_posts": int(rank_without[j]), "logit_change": float(scores[item] - base[item]),
                    "moved_most_by": most})
    return out


def _posts_effect(bundle: ModelBundle, before: np.ndarray, after: np.ndarray,
                  attention: dict[str, np.ndarray] | None, notes: list[str], baseline: str = "") -> dict[str, Any]:
    """The top k with the request's posts against the same request without them, in track ids
    (``baseline`` names that list in the notes where it is not the model's own, e.g. popularity).

    A post the model cannot read (far outside what it was trained on, say) leaves the list as it
    was; the answer then says so instead of implying that the posts shaped it.
    """
    ids = bundle.item_table["item_id"].to_numpy()
    rank_before = {int(i): r for r, i in enumerate(before)}
    entered = [str(ids[i]) for i in after if int(i) not in rank_before]
    left = [str(ids[i]) for i in before if i not in set(after.tolist())]
    moved = sum(1 for r, i in enumerate(after) if rank_before.get(int(i), r) != r)
    weight = None if not attention else float(np.mean([w[:, 1].mean() for w in attention.values()]))
    shown = "" if weight is None else f" (mean contextual attention {weight:.2f})"
    if not entered and not moved:
        notes.append(f"the recent posts did not change this list: it is the list without them{baseline}{shown}")
    else:
        notes.append(f"the recent posts changed the list{baseline}: {len(entered)} of {len(after)} tracks entered, "
                     f"{moved} moved{shown}")
    return {"entered": entered, "left": left, "moved": moved, "mean_contextual_attention": weight}


def _featurize_request_posts(bundle: ModelBundle, posts: list[RecentPost], time: int | None,
                             deadline: float | None, notes: list[str]) -> tuple[_PerModality, _PerModality]:
    """Per-modality times and feature rows of the request posts, made by the workspace's fitted extractors.

    The same extractors as at training time are used so request posts land in the same feature
    space as stored posts. A model trained as a control (e.g. shuffled posts) is warned about,
    since real request posts do not match what it learned from.
    """
    if not posts or bundle.featurizer is None:
        return {}, {}
    fp = bundle.featurizer(posts, int(time if time is not None else 0), deadline=deadline)
    notes.extend(fp.notes)
    control = (getattr(bundle.model, "source", {}) or {}).get("control", "none")
    if control != "none":
        notes.append(f"model trained as a {control} control: request posts do not match it")
    return fp.times, fp.features


def _scoring_view(model: Any, user: int, posts: list[RecentPost], new_times: _PerModality,
                  new_feats: _PerModality, time: int | None) -> tuple[Any, ContextEncoder]:
    """The model to score with and its encoder: the loaded model, or a shallow copy seeing the request posts.

    No lock: the encoder is read-only (range reads of the store) and a request's posts live in a
    one-user copy (O(that user's posts)), so requests never see each other's posts and the loaded
    model is never mutated.
    """
    encoder: ContextEncoder = model.encoder
    if not posts:
        return model, encoder
    enc = encoder.for_user(user, new_times, new_feats, at=time)
    scoring = copy.copy(model)
    scoring.encoder = enc
    return scoring, enc


def _context_report(enc: ContextEncoder, user: int, time: int | None, new_times: _PerModality,
                    notes: list[str], padding: str = "the user's") -> dict[str, Any]:
    """Per modality: how many posts (stored, and from the request) formed the context at ``time``.

    A modality with no post in the window falls back to the global vector (the paper's padding;
    ``padding`` says whose: a cold-start user's is an average listener's); the report flags it and
    a note says so, since that recommendation then ignores the moment.
    """
    counts = enc.context_counts(user, time) if time is not None else {m: 0 for m in enc.modalities}
    new_in_window = {m: int(((t >= time - enc.window) & (t < time)).sum()) if time is not None else 0
                     for m, t in new_times.items()}
    context: dict[str, Any] = {}
    for m in enc.modalities:
        fallback = counts[m] == 0
        context[m] = {"posts_in_window": counts[m], "request_posts_in_window": new_in_window.get(m, 0),
                      "fallback_to_global": fallback}
        if fallback:
            notes.append(f"{m}: no post in the {enc.window // 3600} h before {_iso(time) or 'the request'}; "
                         f"the contextual input is {padding} global vector")
    return context


def _item_rows(bundle: ModelBundle, ranking: _Ranking, is_logit: bool) -> list[dict[str, Any]]:
    """The response's ``items``: catalogue fields, score (probability for logit models), attention."""
    info = bundle.item_table.iloc[ranking.top]
    attention = ranking.attention
    items = []
    for rank, (idx, row) in enumerate(zip(ranking.top, info.itertuples(index=False), strict=True), start=1):
        att = None if attention is None else {m: {"global": float(w[rank - 1, 0]), "contextual": float(w[rank - 1, 1])}
                                              for m, w in attention.items()}
        raw = float(ranking.scores[idx])
        change = ranking.per_item
        items.append({"rank": rank, "item_id": str(row.item_id), "title": str(row.title), "artist": str(row.artist),
                      "score": float(1.0 / (1.0 + np.exp(-raw))) if is_logit else raw,
                      "logit": raw if is_logit else None, "attention": att,
                      **(change[rank - 1] if change else {"rank_without_posts": None, "logit_change": None,
                                                          "moved_most_by": None})})
    return items
