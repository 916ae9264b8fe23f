"""A seeded synthetic world in the data contract (docs/design.md section 12): the embedded default.

Users have a stable taste (a mixture over genres) and a daily mood (a Markov chain over four
moods). Posts are written in the morning (06-12 h) and carry the day's mood in their emotion
words and image colours; listening happens later the same day (12-24 h) and prefers tracks of
the day's mood. So the posts of the last 24 h reveal the mood that drives the next listens: a
planted contextual signal that content models can find and pure collaborative models cannot.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from amae.data.io import read_json, write_json, write_parquet

MOODS = ("happiness", "sadness", "anger", "fear")
DAY = 86_400
START = 1_704_067_200  # 2024-01-01T00:00:00Z

EMOTION_WORDS = {
    "zh": {
        "happiness": ["开心", "快乐", "高兴", "幸福", "愉快", "欢乐"],
        "sadness": ["难过", "伤心", "悲伤", "失落", "痛苦", "孤独"],
        "anger": ["愤怒", "生气", "气愤", "恼火", "可恶", "讨厌"],
        "fear": ["害怕", "担心", "紧张", "恐惧", "不安", "焦虑"],
    },
    "en": {
        "happiness": ["happy", "joy", "delighted", "wonderful", "cheerful", "glad"],
        "sadness": ["sad", "lonely", "cry", "grief", "miserable", "heartbroken"],
        "anger": ["angry", "furious", "rage", "annoyed", "mad", "outraged"],
        "fear": ["afraid", "scared", "worried", "nervous", "anxious", "terrified"],
    },
}
TOPIC_WORDS = {
    "zh": ["家", "朋友", "工作", "学校", "美食", "音乐", "电影", "旅行", "运动", "周末", "咖啡", "猫"],
    "en": ["home", "friends", "work", "school", "dinner", "music", "movie", "travel", "gym",
           "weekend", "coffee", "cat"],
}
FILLER = {
    "zh": ["今天", "我", "我们", "真的", "有点", "一起", "觉得", "还是", "非常", "又"],
    "en": ["today", "i", "we", "really", "feel", "so", "the", "a", "with", "again", "just"],
}
#: everyday words that say nothing of a mood, for the long tail of posts (what a day is about)
OFF_TOPIC = {
    "zh": ["地铁", "下雨", "开会", "手机", "早饭", "新闻", "比赛", "书", "买", "明天", "昨天", "晚上", "城市",
           "街上", "办公室", "上课", "作业", "排队", "外卖", "快递", "天气", "公交", "电脑", "邮件"],
    "en": ["bus", "traffic", "meeting", "phone", "breakfast", "news", "game", "book", "shopping", "tomorrow",
           "yesterday", "tonight", "city", "street", "office", "class", "homework", "queue", "delivery",
           "weather", "train", "laptop", "email", "and", "then", "after", "because", "about", "there"],
}
EMOJI = {"happiness": "😄", "sadness": "😢", "anger": "😠", "fear": "😨"}
# Hue (OpenCV 0-180), saturation, value per mood: warm-bright, cold-dark, red-saturated, grey-dark.
MOOD_COLOUR = {"happiness": (20, 200, 235), "sadness": (110, 150, 90), "anger": (0, 240, 180),
               "fear": (140, 50, 60)}


@dataclass
class WorldConfig:
    """Sizes and strengths of the synthetic world; the defaults make the demo world."""

    n_users: int = 150
    n_items: int = 240
    n_genres: int = 6
    n_days: int = 40
    posts_per_day: float = 2.0
    listens_per_day: float = 2.0
    image_share: float = 0.06
    n_videos: int = 6
    image_size: int = 64
    mood_strength: float = 2.5
    taste_strength: float = 2.0
    mood_stay: float = 0.3
    #: posts as people write them (``amae world --long-posts``): most a sentence, a long tail into
    #: hundreds of characters of everyday, off-topic words around the same two mood words (drawn
    #: from a stream of their own, so listening and moods are those of the short-post world of the
    #: same seed). False (the default, the demo's world and every figure measured on it): each post
    #: is a 7-word sentence
    realistic_text: bool = False
    #: chance that a listen re-plays one of the user's earlier listens (a favourite is re-played in
    #: proportion to its plays) instead of a fresh choice; real listening is mostly re-listening
    relisten: float = 0.0
    seed: int = 0


def _image(rng: np.random.Generator, mood: str, size: int) -> np.ndarray:
    h, s, v = MOOD_COLOUR[mood]
    hsv = np.empty((size, size, 3), dtype=np.float32)
    hsv[..., 0] = (h + rng.normal(0, 4, (size, size))) % 180
    hsv[..., 1] = np.clip(s + rng.normal(0, 15, (size, size)), 0, 255)
    hsv[..., 2] = np.clip(v + rng.normal(0, 15, (size, size)), 0, 255)
    img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    for _ in range(3):  # a few shapes so images are not flat
        p1 = tuple(int(x) for x in rng.integers(0, size, 2))
        p2 = tuple(int(x) for x in rng.integers(0, size, 2))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        cv2.line(img, p1, p2, colour, 2)
    return img


def _write_video(path: Path, rng: np.random.Generator, mood: str, size: int, frames: int = 12) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 6, (size, size))
    for _ in range(frames):
        writer.write(_image(rng, mood, size))
    writer.release()


#: the long tail of post lengths: extra off-topic words ~ lognormal (median about 3, 1% above 60)
_EXTRA_WORDS_MU, _EXTRA_WORDS_SIGMA, _MAX_EXTRA_WORDS = 1.1, 1.3, 150


def _extra_words(rng: np.random.Generator | None, lang: str) -> list[str]:
    """Off-topic words that lengthen a post (none for the short-post worlds, ``rng`` None)."""
    if rng is None:
        return []
    n = min(int(rng.lognormal(_EXTRA_WORDS_MU, _EXTRA_WORDS_SIGMA)), _MAX_EXTRA_WORDS)
    return list(rng.choice(OFF_TOPIC[lang] + FILLER[lang], n)) if n else []


def _text(rng: np.random.Generator, lang: str, mood: str, topics: np.ndarray,
          long_rng: np.random.Generator | None = None) -> str:
    words = list(rng.choice(FILLER[lang], 3)) + list(rng.choice(EMOTION_WORDS[lang][mood], 2))
    words += list(rng.choice(np.asarray(TOPIC_WORDS[lang])[topics], 2))
    words = list(rng.permutation(words))
    extra = _extra_words(long_rng, lang)
    if extra:  # the mood words land anywhere in the longer post
        at = np.sort(long_rng.integers(0, len(extra) + 1, len(words)))
        words = [w for chunk in zip(np.split(np.asarray(extra, dtype=object), at), [*words, ""], strict=True)
                 for w in (*chunk[0], chunk[1]) if w]
    sep = "" if lang == "zh" else " "
    text = sep.join(words)
    if rng.random() < 0.3:
        text += " " + EMOJI[mood]
    if rng.random() < 0.15:
        text += " #" + ("音乐" if lang == "zh" else "music")
    return text + ("。" if lang == "zh" else ".")


@dataclass
class _Latents:
    """The hidden truth of a world: item genre/mood/popularity, user taste/language/topics, daily moods."""

    item_genre: np.ndarray
    item_mood: np.ndarray
    item_pop: np.ndarray
    user_taste: np.ndarray
    user_lang: np.ndarray
    user_topics: np.ndarray
    mood: np.ndarray  # (n_users, n_days)


@dataclass
class WorldTruth:
    """What a world's listening was drawn from, kept in ``_world_truth.json`` beside the data.

    Listening is a softmax choice (Gumbel-max) over items with :meth:`logits`; this is the one
    implementation of that formula, used by the generator and by the Bayes ceilings
    (:mod:`amae.experiments.ceilings`), so a ceiling ranks by exactly the probability the data
    were drawn from. Indices are the generator's own (user ``u0007`` is 7, track ``t0012`` is 12).
    """

    item_genre: np.ndarray
    item_mood: np.ndarray
    item_pop: np.ndarray
    user_taste: np.ndarray
    mood: np.ndarray  # (n_users, n_days), the daily mood the posts reveal
    taste_strength: float
    mood_strength: float
    start: int = START
    day_seconds: int = DAY

    @classmethod
    def of(cls, latents: _Latents, cfg: WorldConfig) -> WorldTruth:
        return cls(latents.item_genre, latents.item_mood, latents.item_pop, latents.user_taste, latents.mood,
                   float(cfg.taste_strength), float(cfg.mood_strength))

    def _taste(self, users: np.ndarray) -> np.ndarray:
        return self.taste_strength * np.log(self.user_taste[np.asarray(users, dtype=np.int64)][:, self.item_genre]
                                            + 1e-3)

    def base_logits(self, users: np.ndarray) -> np.ndarray:
        """(n, n_items): taste and popularity, the part of a listen's logit that never changes."""
        return self._taste(users) + self.item_pop[None, :]

    def mood_match(self, moods: np.ndarray) -> np.ndarray:
        """(n, n_items): 1 where an item's mood is the row's mood."""
        return (self.item_mood[None, :] == np.asarray(moods, dtype=np.int64)[:, None]).astype(np.float64)

    def logits(self, users: np.ndarray, moods: np.ndarray) -> np.ndarray:
        """(n, n_items) listening logits of ``users`` in ``moods`` (one mood per row), summed in the
        generator's historical order so that a seed keeps making the same world."""
        return self._taste(users) + self.mood_strength * self.mood_match(moods) + self.item_pop[None, :]

    def day_of(self, times: np.ndarray) -> np.ndarray:
        """Day index of unix ``times`` (clipped to the world's days)."""
        day = (np.asarray(times, dtype=np.int64) - self.start) // self.day_seconds
        return np.clip(day, 0, self.mood.shape[1] - 1)

    def to_json(self) -> dict:
        return {"item_genre": self.item_genre.tolist(), "item_mood": self.item_mood.tolist(),
                "item_pop": self.item_pop.tolist(), "user_taste": self.user_taste.tolist(),
                "mood": self.mood.tolist(), "taste_strength": self.taste_strength,
                "mood_strength": self.mood_strength, "start": self.start, "day_seconds": self.day_seconds,
                "moods": list(MOODS)}

    @classmethod
    def load(cls, folder: Path) -> WorldTruth | None:
        """The truth of a folder written by :func:`generate_world`, or None (not a world, or an old one)."""
        path = Path(folder) / "_world_truth.json"
        if not path.exists():
            return None
        raw = read_json(path)
        if "user_taste" not in raw:
            return None  # written before the truth was kept in full
        return cls(np.asarray(raw["item_genre"], dtype=np.int64), np.asarray(raw["item_mood"], dtype=np.int64),
                   np.asarray(raw["item_pop"], dtype=np.float64), np.asarray(raw["user_taste"], dtype=np.float64),
                   np.asarray(raw["mood"], dtype=np.int64), float(raw["taste_strength"]),
                   float(raw["mood_strength"]), int(raw["start"]), int(raw["day_seconds"]))


# The helpers below draw from one shared generator in a fixed order (latents, moods, posts, media,
# listens): reordering any draw changes the world a seed makes.


def _draw_latents(rng: np.random.Generator, cfg: WorldConfig) -> _Latents:
    """Items and users, then each user's daily mood: a Markov chain (stay with ``mood_stay``)."""
    n_moods = len(MOODS)
    item_genre = rng.integers(0, cfg.n_genres, cfg.n_items)
    item_mood = rng.integers(0, n_moods, cfg.n_items)
    item_pop = rng.normal(0, 0.5, cfg.n_items)
    user_taste = rng.dirichlet(np.full(cfg.n_genres, 0.3), cfg.n_users)
    user_lang = np.where(rng.random(cfg.n_users) < 0.5, "zh", "en")
    user_topics = np.stack([rng.choice(len(TOPIC_WORDS["en"]), 3, replace=False) for _ in range(cfg.n_users)])
    # Daily mood: Markov chain per user, vectorised over users.
    mood = np.empty((cfg.n_users, cfg.n_days), dtype=np.int64)
    mood[:, 0] = rng.integers(0, n_moods, cfg.n_users)
    for d in range(1, cfg.n_days):
        stay = rng.random(cfg.n_users) < cfg.mood_stay
        mood[:, d] = np.where(stay, mood[:, d - 1], rng.integers(0, n_moods, cfg.n_users))
    return _Latents(item_genre, item_mood, item_pop, user_taste, user_lang, user_topics, mood)


def _per_day_events(rng: np.random.Generator, rate: float, cfg: WorldConfig, hours: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, day, unix time) of events drawn Poisson(``rate``) per user-day, at ``hours`` of the day."""
    counts = rng.poisson(rate, (cfg.n_users, cfg.n_days))
    users, days = np.nonzero(counts)
    reps = counts[users, days]
    user, day = np.repeat(users, reps), np.repeat(days, reps)
    time = START + day * DAY + rng.integers(hours[0] * 3600, hours[1] * 3600, len(user))
    return user, day, time


def _write_post_media(rng: np.random.Generator, cfg: WorldConfig, folder: Path, post_user: np.ndarray,
                      post_mood: np.ndarray, latents: _Latents) -> tuple[list, list[list[str]], np.ndarray, set]:
    """Each post's text (5% have none) and media, written to ``folder/media`` as a real dataset is.

    A share of posts carries an image in the day's mood colours; a few of those are short videos.
    Returns texts, media paths per post, the has-image mask and the video post numbers.
    """
    texts, media = [], []
    long_rng = np.random.default_rng([cfg.seed, 1]) if cfg.realistic_text else None
    has_image = rng.random(len(post_user)) < cfg.image_share
    video_posts = set(rng.choice(np.flatnonzero(has_image), min(cfg.n_videos, int(has_image.sum())),
                                 replace=False).tolist()) if has_image.any() else set()
    for i in range(len(post_user)):
        u, m = post_user[i], MOODS[post_mood[i]]
        texts.append(_text(rng, latents.user_lang[u], m, latents.user_topics[u], long_rng)
                     if rng.random() > 0.05 else None)
        paths: list[str] = []
        if has_image[i]:
            if i in video_posts:
                rel = f"media/v{i:06d}.mp4"
                _write_video(folder / rel, rng, m, cfg.image_size)
            else:
                rel = f"media/p{i:06d}." + ("jpg" if i % 2 else "png")
                cv2.imwrite(str(folder / rel), _image(rng, m, cfg.image_size))
            paths.append(rel)
        media.append(paths)
    return texts, media, has_image, video_posts


#: listens whose logits are drawn at once: (block, n_items) floats stay small for big catalogues
_LISTEN_BLOCK = 8192


def _draw_listens(rng: np.random.Generator, cfg: WorldConfig, truth: WorldTruth
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, time) of listens in 12-24 h; items by taste + the day's mood + popularity (Gumbel-max),
    then, with ``cfg.relisten``, some of them replaced by re-plays (:func:`_relisten`)."""
    inter_user, inter_day, inter_time = _per_day_events(rng, cfg.listens_per_day, cfg, (12, 24))
    items = np.empty(len(inter_user), dtype=np.int64)
    for s in range(0, len(inter_user), _LISTEN_BLOCK):  # blocks draw the same Gumbel stream as one array
        block = slice(s, s + _LISTEN_BLOCK)
        logits = truth.logits(inter_user[block], truth.mood[inter_user[block], inter_day[block]])
        items[block] = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
    if cfg.relisten > 0:
        items = _relisten(rng, cfg.relisten, inter_user, inter_time, items)
    return inter_user, items, inter_time


def _relisten(rng: np.random.Generator, share: float, user: np.ndarray, time: np.ndarray,
              items: np.ndarray) -> np.ndarray:
    """Each listen but a user's first becomes, with probability ``share``, a copy of one of that
    user's earlier listens drawn uniformly (so a track is re-played in proportion to its plays).

    Vectorised: every listen points at its source (itself, or an earlier listen), and chains of
    copies are resolved by pointer jumping, about log2(listens) passes.
    """
    order = np.lexsort((time, user))
    u = user[order]
    first = np.searchsorted(u, u, side="left")  # index of each listen's user's first listen (u is sorted)
    pos = np.arange(len(u)) - first
    copy = (rng.random(len(u)) < share) & (pos > 0)
    src = np.arange(len(u))
    src[copy] = first[copy] + (rng.random(int(copy.sum())) * pos[copy]).astype(np.int64)
    while True:
        nxt = src[src]
        if np.array_equal(nxt, src):
            break
        src = nxt
    out = np.empty_like(items)
    out[order] = items[order][src]
    return out


def simulate_listening(cfg: WorldConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(user, item, time) of a world's listening alone, without writing posts or media: for
    measuring what a configuration makes (e.g. its share of re-listens) cheaply. Statistically the
    same as :func:`generate_world`'s listening, not draw for draw (posts are not drawn in between)."""
    rng = np.random.default_rng(cfg.seed)
    latents = _draw_latents(rng, cfg)
    return _draw_listens(rng, cfg, WorldTruth.of(latents, cfg))


def generate_world(folder: Path, config: WorldConfig | None = None) -> dict:
    """Write ``interactions.parquet``, ``posts.parquet``, ``items.parquet`` and media to ``folder``.

    Returns a summary (sizes and the config). Generation is vectorised where it matters; media
    files are written one by one because that is what a real dataset looks like on disk.
    """
    cfg = config or WorldConfig()
    rng = np.random.default_rng(cfg.seed)
    folder = Path(folder)
    (folder / "media").mkdir(parents=True, exist_ok=True)
    latents = _draw_latents(rng, cfg)
    # Posts: Poisson count per user-day, times in 06-12 h.
    post_user, post_day, post_time = _per_day_events(rng, cfg.posts_per_day, cfg, (6, 12))
    texts, media, has_image, video_posts = _write_post_media(rng, cfg, folder, post_user,
                                                             latents.mood[post_user, post_day], latents)
    truth = WorldTruth.of(latents, cfg)
    inter_user, inter_item, inter_time = _draw_listens(rng, cfg, truth)

    interactions = pd.DataFrame({"user_id": [f"u{u:04d}" for u in inter_user],
                                 "item_id": [f"t{i:04d}" for i in inter_item],
                                 "timestamp": inter_time.astype(np.int64)})
    posts = pd.DataFrame({"post_id": [f"p{i:06d}" for i in range(len(post_user))],
                          "user_id": [f"u{u:04d}" for u in post_user],
                          "timestamp": post_time.astype(np.int64), "text": texts, "media": media})
    items = pd.DataFrame({"item_id": [f"t{i:04d}" for i in range(cfg.n_items)],
                          "title": [f"Track {i}" for i in range(cfg.n_items)],
                          "artist": [f"Artist {g}" for g in latents.item_genre]})
    write_parquet(folder / "interactions.parquet", interactions)
    write_parquet(folder / "posts.parquet", posts)
    write_parquet(folder / "items.parquet", items)
    # The planted truth, kept out of the contract tables so no model can read it by accident.
    write_json(folder / "_world_truth.json", truth.to_json())
    summary = {"config": asdict(cfg), "n_interactions": len(interactions), "n_posts": len(posts),
               "n_media": int(has_image.sum()), "n_videos": len(video_posts)}
    write_json(folder / "_world.json", summary)
    return summary
