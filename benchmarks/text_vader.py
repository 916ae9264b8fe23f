"""VADER's ``polarity_scores`` against amae's linear-time copy (``amae.features.text.vader_fast``).

    python benchmarks/text_vader.py [--rounds 3] [--short-posts 2000]

Seconds per post for the installed ``vaderSentiment`` analyzer and for
:class:`FastSentimentIntensityAnalyzer` on 10,000-character posts of four kinds (mixed English with
negations, boosters, idioms and "but"; "not happy! " repeated; Chinese with Weibo-style emoji; 5,000
emoji) and on typical short posts of about 60 characters, with the speed-up. Every post's scores are
checked equal first. Each figure is the best of ``--rounds`` (the original on the long posts: one
round, it takes seconds). Writes ``benchmarks/results/text_vader.json``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import peak_rss_mb, write_results  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from amae.features.text.vader_fast import FastSentimentIntensityAnalyzer  # noqa: E402

LONG = 10_000
_EN = ("I really love this song but the ending is not good , never so bad , kind of sad !!! the bomb :) "
       "absolutely GREAT isn't great at least yeah right hardly happy no love music today was sunny and the "
       "weather made me smile").split()  # fmt: skip
_ZH = ["今天", "的", "音乐", "太", "好听", "了", "我", "很", "开心", "但是", "有点", "难过", "。", "，", "！"]
_EMOJI = "😀😂😍😭😡👍💔🎵🔥✨"
_SHORT = ["Loving this new song so much!! 😍", "not my favourite album, kind of boring tbh",
          "Worst concert ever. Never going again :(", "这首歌真好听，听了一整天 🎵", "ok I guess, nothing special",
          "BEST. DAY. EVER!!! thank you all ❤️", "feeling sad today but music helps a little"]  # fmt: skip


def make_posts(seed: int = 0) -> dict[str, list[str]]:
    """Kind -> posts: one 10,000-character post of each long kind, a list of ~60-character posts."""
    rng = random.Random(seed)
    mixed = " ".join(rng.choice(_EN) for _ in range(LONG // 3))[:LONG]
    zh: list[str] = []
    while sum(map(len, zh)) < LONG:
        zh.append(rng.choice(_ZH) if rng.random() > 0.1 else rng.choice(_EMOJI))
    emoji = "".join(rng.choice(_EMOJI) for _ in range(5_000))
    return {
        "mixed_english_10k": [mixed],
        "not_happy_10k": [("not happy! " * (LONG // 11 + 1))[:LONG]],
        "chinese_emoji_10k": ["".join(zh)[:LONG]],
        "emoji_5000": [emoji],
        "short_60": [rng.choice(_SHORT) + " " + rng.choice(_SHORT)[:28] for _ in range(2000)],
    }


def seconds_per_post(analyzer, posts: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for p in posts:
            analyzer.polarity_scores(p)
        best = min(best, time.perf_counter() - t0)
    return best / len(posts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--short-posts", type=int, default=2000)
    args = ap.parse_args()
    orig, fast = SentimentIntensityAnalyzer(), FastSentimentIntensityAnalyzer()
    kinds = make_posts()
    kinds["short_60"] = kinds["short_60"][: args.short_posts]
    rows = {}
    print(f"{'posts':20s} {'chars':>7s} {'words':>7s} {'original s/post':>16s} {'fast s/post':>12s} {'speed-up':>9s}")
    for kind, posts in kinds.items():
        for p in posts:
            assert orig.polarity_scores(p) == fast.polarity_scores(p), (kind, p[:80])
        short = kind.startswith("short")
        t_orig = seconds_per_post(orig, posts, args.rounds if short else 1)
        t_fast = seconds_per_post(fast, posts, args.rounds)
        chars = sum(map(len, posts)) / len(posts)
        words = sum(len(fast._replace_emojis(p).split()) for p in posts) / len(posts)
        rows[kind] = {"posts": len(posts), "chars_per_post": chars, "vader_words_per_post": words,
                      "original_s_per_post": t_orig, "fast_s_per_post": t_fast, "speedup": t_orig / t_fast}  # fmt: skip
        print(f"{kind:20s} {chars:7.0f} {words:7.0f} {t_orig:16.6f} {t_fast:12.6f} {t_orig / t_fast:8.1f}x")
    rss = peak_rss_mb()
    print(f"peak RSS {rss:.0f} MB; scores identical on every post")
    write_results("text_vader", {"rounds": args.rounds, "identical_scores": True, "kinds": rows,
                                 "peak_rss_mb": rss})  # fmt: skip


if __name__ == "__main__":
    main()
