"""Bayes ceilings on a synthetic world: what a perfect reader of the truth would score.

A folder written by ``amae world`` keeps the truth its listening was drawn from
(:class:`amae.data.synthetic.WorldTruth`). Ranking every test case's candidates by the true
listening probability gives three reference rows, scored by the same protocol as every model
(:func:`amae.protocol.metrics.evaluate`: the fixed negatives, full ranking, new pairs):

- ``collaborative``: knows each user's taste and each track's popularity and genre, not the day's
  mood (a mixture over moods with the chain's stationary, uniform prior). No model that reads
  only the listening can be expected above it.
- ``observable``: also knows the day's mood whenever the user wrote a post (with text or media)
  in the model's context window before the listen; otherwise the same mixture. This is the most
  that reading the window's posts perfectly can give.
- ``omniscient``: knows every day's mood.

Beside them, ``estimated`` (not a ceiling of the report, a yardstick of the capture benchmark): the
``observable`` reader with each track's mood *estimated* from the fitting listens (those with a
readable post in the window, whose day's mood it knows) instead of known. The other ceilings know
every track's mood; a model must learn it from the same finite listens, so ``estimated -
collaborative`` says how much of the available gain finite data let even a perfect reader keep.
That reader also knows the world's *form* (a track has one mood; every mood lifts its tracks by the
same strength), so it only picks an argmax per track. ``smoothed`` knows the posts as well but not
the form: it estimates every (track, mood) effect from the listens in it (smoothed log lifts), as a
model with a free content vector per track must (:func:`smoothed_item_effects`).

All three also know the protocol: a test case's candidates are the tracks the user never played
plus the positive, so a played track among them is the positive (a re-listen). Each ceiling
ranks played tracks first (``history``), as a model that remembers plays can learn to.

``observable - collaborative`` is the content gain the posts make available; a content row's
gain over its own backbone (MF or DMF) divided by it is the share it captured
(:func:`captured_shares`).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from amae.data.contract import Dataset
from amae.data.ids import IdMap
from amae.data.io import read_json
from amae.data.ranges import window_counts
from amae.data.synthetic import WorldTruth
from amae.experiments.coverage import carrying_posts
from amae.protocol.metrics import evaluate
from amae.protocol.split import Split, set_membership
from amae.protocol.stored import history_pairs

CEILINGS = ("collaborative", "observable", "omniscient")
#: the AMAE default context window (seconds) the observable ceiling reads
WINDOW_SECONDS = 86_400
#: users per block when computing normalisers over the whole catalogue
_USER_BLOCK = 2048
#: added to a played track's log-probability: above any unplayed one
PLAYED_BONUS = 1e6


def world_folder(kind: str, source: Path, workspace: Path) -> Path | None:
    """The ``amae world`` folder an experiment reads, or None when its source is not one."""
    if kind == "contract":
        folder = Path(source)
    elif kind == "workspace":
        stats = Path(workspace) / "data" / "stats.json"
        folder = Path(read_json(stats).get("source", "")) if stats.exists() else None
    else:
        folder = None
    return folder if folder is not None and (folder / "_world_truth.json").exists() else None


def world_index(ids: IdMap, prefix: str, size: int) -> np.ndarray | None:
    """Generator index of each dense id (``u0007`` -> 7); None when an id is not the generator's."""
    pattern = re.compile(rf"^{prefix}(\d+)$")
    out = np.empty(len(ids), dtype=np.int64)
    for k, raw in enumerate(ids.ids):  # once per id at set-up, not per case
        match = pattern.match(str(raw))
        if match is None or int(match.group(1)) >= size:
            return None
        out[k] = int(match.group(1))
    return out


class TruthScorer:
    """A score function (``users, items, times -> scores``) ranking by the true listening probability.

    ``knows`` is ``"collaborative"``, ``"observable"`` or ``"omniscient"`` (see the module
    docstring). Scores are log-probabilities of a mixture over moods, computed per case as
    ``base(i) + v[mood(i)]`` so no (case, item, mood) array is ever built.
    """

    def __init__(self, truth: WorldTruth, users: np.ndarray, items: np.ndarray, knows: str,
                 posts: tuple[np.ndarray, np.ndarray] | None = None, window: int = WINDOW_SECONDS,
                 history: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        if knows not in CEILINGS:
            raise ValueError(f"unknown ceiling '{knows}' (use {', '.join(CEILINGS)})")
        self.truth, self.users, self.items, self.knows = truth, users, items, knows
        #: (world user, time) of the posts a reader can read, and the window it reads them in
        self.posts, self.window = posts, int(window)
        #: (dense user, dense item) pairs of the training period
        self.history = history
        self.n_moods = int(max(truth.item_mood.max(), truth.mood.max())) + 1
        self.log_norm = self._log_normalisers()

    def _log_normalisers(self) -> np.ndarray:
        """(n_world_users, n_moods): log of the softmax denominator of each user in each mood."""
        t = self.truth
        n_users = t.user_taste.shape[0]
        out = np.empty((n_users, self.n_moods), dtype=np.float64)
        for s in range(0, n_users, _USER_BLOCK):
            users = np.arange(s, min(s + _USER_BLOCK, n_users))
            base = t.base_logits(users)
            for k in range(self.n_moods):
                z = base + t.mood_strength * (t.item_mood == k)[None, :]
                top = z.max(axis=1, keepdims=True)
                out[users, k] = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
        return out

    def has_post(self, users: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Whether each (world user, time) has a post in ``[time - window, time)``."""
        if self.posts is None:
            return np.zeros(len(users), dtype=bool)
        return window_counts(self.posts[0], self.posts[1], users, times, self.window) > 0

    def mood_weights(self, users: np.ndarray, times: np.ndarray) -> np.ndarray:
        """(n, n_moods) what this reader believes about each case's mood."""
        n = len(users)
        weights = np.full((n, self.n_moods), 1.0 / self.n_moods)
        known = np.ones(n, dtype=bool) if self.knows == "omniscient" else (
            self.has_post(users, times) if self.knows == "observable" else np.zeros(n, dtype=bool))
        true = self.truth.mood[users[known], self.truth.day_of(times[known])]
        weights[known] = 0.0
        weights[np.flatnonzero(known), true] = 1.0
        return weights

    def __call__(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None) -> np.ndarray:
        wu = self.users[np.asarray(users, dtype=np.int64)]
        t = np.asarray(times, dtype=np.int64)
        with np.errstate(divide="ignore"):
            c = np.log(self.mood_weights(wu, t)) - self.log_norm[wu]  # (n, moods)
        eye = self.truth.mood_strength * np.eye(self.n_moods)
        z = c[:, None, :] + eye[None, :, :]  # (n, item mood j, believed mood k)
        top = z.max(axis=2, keepdims=True)
        per_mood = top[..., 0] + np.log(np.exp(z - top).sum(axis=2))  # (n, item mood j)
        dense = np.broadcast_to(np.asarray(items, dtype=np.int64), (len(wu), np.shape(items)[-1]))
        rows = self.items[dense]
        base = self.truth.base_logits(wu)
        score = np.take_along_axis(base, rows, axis=1) + np.take_along_axis(per_mood, self.truth.item_mood[rows],
                                                                             axis=1)
        if self.history is None:
            return score
        played = set_membership(np.broadcast_to(np.asarray(users, dtype=np.int64)[:, None], dense.shape).ravel(),
                                dense.ravel(), self.history, len(self.items)).reshape(dense.shape)
        return score + PLAYED_BONUS * played


def _readable_posts(dataset: Dataset, user_index: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(world user, time) of the posts that carry text or media (what a reader of the window has)."""
    if not dataset.has_content:
        return None
    posts = dataset.posts
    keep = np.logical_or.reduce(list(carrying_posts(dataset, None).values()))
    return user_index[posts["user_idx"].to_numpy(np.int64)[keep]], posts["timestamp"].to_numpy(np.int64)[keep]


def mood_listen_counts(truth: WorldTruth, dataset: Dataset, split: Split, users: np.ndarray, items: np.ndarray,
                       posts: tuple[np.ndarray, np.ndarray] | None, window: int = WINDOW_SECONDS
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(observed, expected), each (n_moods, n_world_items): each track's fitting listens on days whose
    mood a reader of the window's posts knows (a readable post in the window), per mood, and those
    expected without any mood effect (each listen's user's taste-and-popularity probability of it)."""
    rows = split.fit_rows
    inter = dataset.interactions
    wu = users[inter["user_idx"].to_numpy(np.int64)[rows]]
    wi = items[inter["item_idx"].to_numpy(np.int64)[rows]]
    t = inter["timestamp"].to_numpy(np.int64)[rows]
    seen = (window_counts(posts[0], posts[1], wu, t, window) > 0) if posts is not None else np.zeros(len(wu), bool)
    mood = truth.mood[wu[seen], truth.day_of(t[seen])]
    n_moods = int(max(truth.item_mood.max(), truth.mood.max())) + 1
    n_items = len(truth.item_mood)
    observed = np.zeros((n_moods, n_items))
    np.add.at(observed, (mood, wi[seen]), 1.0)
    n_users = truth.user_taste.shape[0]
    per_user = np.zeros((n_users, n_moods))
    np.add.at(per_user, (wu[seen], mood), 1.0)
    expected = np.zeros((n_moods, n_items))
    for s in range(0, n_users, _USER_BLOCK):
        block = np.arange(s, min(s + _USER_BLOCK, n_users))
        z = truth.base_logits(block)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        expected += per_user[block].T @ (p / p.sum(axis=1, keepdims=True))
    return observed, expected


def estimated_item_moods(truth: WorldTruth, dataset: Dataset, split: Split, users: np.ndarray, items: np.ndarray,
                         posts: tuple[np.ndarray, np.ndarray] | None, window: int = WINDOW_SECONDS) -> np.ndarray:
    """Each track's mood as a perfect reader of the posts would estimate it from the fitting listens.

    A listen whose window holds a readable post reveals its day's mood ``k``. Track ``i``'s lift in
    mood ``k`` is its listens on such days over those expected without any mood effect
    (:func:`mood_listen_counts`); the estimate is the mood of the highest lift. A track never heard
    on such a day keeps mood 0.
    """
    observed, expected = mood_listen_counts(truth, dataset, split, users, items, posts, window)
    lift = observed / np.maximum(expected, 1e-12)
    return lift.argmax(axis=0).astype(truth.item_mood.dtype)


#: listens of pseudo-count added to each (mood, track) cell's observed and expected listens
SMOOTHING = 2.0


def smoothed_item_effects(truth: WorldTruth, dataset: Dataset, split: Split, users: np.ndarray, items: np.ndarray,
                          posts: tuple[np.ndarray, np.ndarray] | None, window: int = WINDOW_SECONDS,
                          smoothing: float = SMOOTHING) -> np.ndarray:
    """(n_moods, n_world_items) each track's effect of each mood as a reader who does *not* know the
    world's form would estimate it: the log of the smoothed lift, ``log((observed + a) / (expected +
    a))`` (:func:`mood_listen_counts`), centred over moods.

    :func:`estimated_item_moods` knows that a track has exactly one mood and that every mood lifts
    its tracks by the same strength, so it only has to pick an argmax; a model knows neither and
    must estimate every (track, mood) cell from the few listens in it, the rarer moods of a track
    from two or three. This reader does that, with the best-known shrinkage of a rate from counts.
    """
    observed, expected = mood_listen_counts(truth, dataset, split, users, items, posts, window)
    effect = np.log((observed + smoothing) / (expected + smoothing))
    return effect - effect.mean(axis=0, keepdims=True)


class SmoothedReader:
    """Scores of :func:`smoothed_item_effects`' reader: the taste and popularity the ceilings know,
    plus the estimated effect of the day's mood where a readable post in the window reveals it
    (otherwise the average over moods, ``log mean_k exp(effect)``), played tracks first. Without a
    ``history`` it scores the effect alone, which ``benchmarks/content_capture.py`` adds to a trained
    backbone's scores: what that backbone would gain from a perfect reader of the posts."""

    def __init__(self, truth: WorldTruth, users: np.ndarray, items: np.ndarray, effects: np.ndarray,
                 posts: tuple[np.ndarray, np.ndarray] | None, window: int,
                 history: tuple[np.ndarray, np.ndarray] | None) -> None:
        self.truth, self.users, self.items, self.effects = truth, users, items, effects
        self.posts, self.window, self.history = posts, int(window), history
        top = effects.max(axis=0)
        self.unknown = top + np.log(np.exp(effects - top).mean(axis=0))  # (n_world_items,)

    def __call__(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None) -> np.ndarray:
        u = np.asarray(users, dtype=np.int64)
        dense = np.broadcast_to(np.asarray(items, dtype=np.int64), (len(u), np.shape(items)[-1]))
        wu, rows, t = self.users[u], self.items[dense], np.asarray(times, dtype=np.int64)
        known = (window_counts(self.posts[0], self.posts[1], wu, t, self.window) > 0
                 if self.posts is not None else np.zeros(len(u), dtype=bool))
        mood = self.truth.mood[wu, self.truth.day_of(t)]
        effect = np.where(known[:, None], self.effects[mood[:, None], rows], self.unknown[rows])
        if self.history is None:  # the effect alone, to add to a model's scores
            return effect
        played = set_membership(np.broadcast_to(u[:, None], dense.shape).ravel(), dense.ravel(), self.history,
                                len(self.items)).reshape(dense.shape)
        return np.take_along_axis(self.truth.base_logits(wu), rows, axis=1) + effect + PLAYED_BONUS * played


def world_ceilings(folder: Path, dataset: Dataset, split: Split, window: int = WINDOW_SECONDS,
                   estimated: bool = False) -> dict[str, Any] | None:
    """ceiling -> metrics (every protocol, as a cell's ``metrics.json`` has them); None when
    ``folder`` holds no usable truth (not an ``amae world`` folder, or ids that are not its own).
    ``estimated`` adds the observable reader with estimated track moods (module docstring), the
    share of tracks whose mood it got right (``estimated_moods_right``), and the ``smoothed`` reader
    (:func:`smoothed_item_effects`)."""
    truth = WorldTruth.load(folder)
    if truth is None:
        return None
    users = world_index(dataset.users, "u", truth.user_taste.shape[0])
    items = world_index(dataset.items, "t", len(truth.item_mood))
    if users is None or items is None:
        return None
    posts = _readable_posts(dataset, users)
    pairs = history_pairs(dataset, split)
    out: dict[str, Any] = {"window_seconds": int(window), "mood_strength": truth.mood_strength}
    for knows in CEILINGS:
        scorer = TruthScorer(truth, users, items, knows, posts, window, pairs)
        result = evaluate(scorer, split.test, dataset.n_items, pairs)
        out[knows] = {k: v for k, v in result.items() if not k.startswith("_")}
    if estimated:
        moods = estimated_item_moods(truth, dataset, split, users, items, posts, window)
        scorer = TruthScorer(replace(truth, item_mood=moods), users, items, "observable", posts, window, pairs)
        result = evaluate(scorer, split.test, dataset.n_items, pairs)
        out["estimated"] = {k: v for k, v in result.items() if not k.startswith("_")}
        out["estimated_moods_right"] = float((moods == truth.item_mood).mean())
        effects = smoothed_item_effects(truth, dataset, split, users, items, posts, window)
        result = evaluate(SmoothedReader(truth, users, items, effects, posts, window, pairs), split.test,
                          dataset.n_items, pairs)
        out["smoothed"] = {k: v for k, v in result.items() if not k.startswith("_")}
    return out


def captured_shares(row_metrics: dict[str, Any], backbone_metrics: dict[str, Any], ceilings: dict[str, Any],
                    views: tuple[str, ...] = ("full", "full_new_pairs"), metric: str = "NDCG@10"
                    ) -> dict[str, Any]:
    """view -> {available, gained, share}: a content row's mean gain over its backbone (both as
    seed summaries: metric -> [mean, std]) against the gain the posts make available (observable -
    collaborative ceiling), on ``metric``."""
    out: dict[str, Any] = {}
    for view in views:
        row = (row_metrics.get(view) or {}).get(metric)
        base = (backbone_metrics.get(view) or {}).get(metric)
        obs, col = ((ceilings.get(c) or {}).get(view, {}).get(metric) for c in ("observable", "collaborative"))
        if row is None or base is None or obs is None or col is None:
            continue
        available, gained = float(obs) - float(col), float(row[0]) - float(base[0])
        out[view] = {"available": available, "gained": gained,
                     "share": gained / available if available > 1e-9 else float("nan")}
    return out
