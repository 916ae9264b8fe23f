"""VADER sentiment in time linear in a post's word count, with the same numbers as ``vaderSentiment``.

``vaderSentiment.SentimentIntensityAnalyzer.polarity_scores`` (3.3.2) is quadratic in the number of
words: for every lexicon word, ``_negation_check`` (up to three times) and ``_special_idioms_check``
lowercase the whole word list again, and ``_but_check`` finds each score with ``list.index`` and
moves it with ``pop``/``insert``. A 10,000-character post (2,000 English words, or 5,000 emoji whose
descriptions make 12,000 words) took 0.3-10 s, 98% of it in those copies (``benchmarks/text_vader.py``).

:class:`FastSentimentIntensityAnalyzer` lowercases the words once per post and passes that list to
copies of those rules that read it instead of rebuilding it; ``_but_check`` keeps its exact
(quirky) semantics, where a score is rescaled at the *first* position holding an equal value, with
one heap of positions per value. The emoji descriptions are joined once instead of concatenated.
Everything else (lexicon, constants, ``negated``, ``scalar_inc_dec``, ``_least_check``,
``score_valence``) is the installed package's own code, and the rules are the installed version's
line for line, so the scores are equal bit for bit; ``tests/features/text/test_text_vader_fast.py``
checks that on a varied corpus and on long posts.
"""

from __future__ import annotations

import heapq

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    SentiText,
    negated,
    scalar_inc_dec,
)


class FastSentimentIntensityAnalyzer(SentimentIntensityAnalyzer):
    """``SentimentIntensityAnalyzer`` whose ``polarity_scores`` is linear in the word count (same output)."""

    def _replace_emojis(self, text: str) -> str:
        """The original's emoji-to-description pass, built with one join."""
        emojis = self.emojis
        parts: list[str] = []
        prev_space = True
        for ch in text:
            if ch in emojis:
                if not prev_space:
                    parts.append(" ")
                parts.append(emojis[ch])
                prev_space = False
            else:
                parts.append(ch)
                prev_space = ch == " "
        return "".join(parts).strip()

    def polarity_scores(self, text):
        if not isinstance(text, str):  # the original fails on these; keep its behaviour
            return super().polarity_scores(text)
        text = self._replace_emojis(text)
        sentitext = SentiText(text)
        words = sentitext.words_and_emoticons
        lower = [str(w).lower() for w in words]
        sentitext.words_lower = lower
        sentiments: list = []
        last = len(words) - 1
        for i, item in enumerate(words):
            valence = 0
            if lower[i] in BOOSTER_DICT:
                sentiments.append(valence)
                continue
            if i < last and lower[i] == "kind" and lower[i + 1] == "of":
                sentiments.append(valence)
                continue
            sentiments = self.sentiment_valence(valence, sentitext, item, i, sentiments)
        sentiments = _but_check_linear(lower, sentiments)
        return self.score_valence(sentiments, text)

    def sentiment_valence(self, valence, sentitext, item, i, sentiments):
        """The original rule, reading the post's lowercased words (``sentitext.words_lower``)."""
        is_cap_diff = sentitext.is_cap_diff
        words = sentitext.words_and_emoticons
        lower = getattr(sentitext, "words_lower", None)
        if lower is None:
            lower = [str(w).lower() for w in words]
        item_lowercase = lower[i]
        lexicon = self.lexicon
        if item_lowercase in lexicon:
            valence = lexicon[item_lowercase]
            if item_lowercase == "no" and i != len(words) - 1 and lower[i + 1] in lexicon:
                valence = 0.0
            if (
                (i > 0 and lower[i - 1] == "no")
                or (i > 1 and lower[i - 2] == "no")
                or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ["or", "nor"])
            ):
                valence = lexicon[item_lowercase] * N_SCALAR
            if item.isupper() and is_cap_diff:
                if valence > 0:
                    valence += C_INCR
                else:
                    valence -= C_INCR
            for start_i in range(0, 3):
                if i > start_i and lower[i - (start_i + 1)] not in lexicon:
                    s = scalar_inc_dec(words[i - (start_i + 1)], valence, is_cap_diff)
                    if start_i == 1 and s != 0:
                        s = s * 0.95
                    if start_i == 2 and s != 0:
                        s = s * 0.9
                    valence = valence + s
                    valence = _negation_check_lower(valence, lower, start_i, i)
                    if start_i == 2:
                        valence = _special_idioms_check_lower(valence, lower, i)
            valence = self._least_check(valence, words, i)
        sentiments.append(valence)
        return sentiments


def _negation_check_lower(valence, lower: list[str], start_i: int, i: int):
    """``SentimentIntensityAnalyzer._negation_check`` given the already lowercased words."""
    if start_i == 0:
        if negated([lower[i - (start_i + 1)]]):
            valence = valence * N_SCALAR
    if start_i == 1:
        if lower[i - 2] == "never" and (lower[i - 1] == "so" or lower[i - 1] == "this"):
            valence = valence * 1.25
        elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
            valence = valence
        elif negated([lower[i - (start_i + 1)]]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if (lower[i - 3] == "never" and (lower[i - 2] == "so" or lower[i - 2] == "this")) or (
            lower[i - 1] == "so" or lower[i - 1] == "this"
        ):
            valence = valence * 1.25
        elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
            valence = valence
        elif negated([lower[i - (start_i + 1)]]):
            valence = valence * N_SCALAR
    return valence


def _special_idioms_check_lower(valence, lower: list[str], i: int):
    """``SentimentIntensityAnalyzer._special_idioms_check`` given the already lowercased words."""
    onezero = f"{lower[i - 1]} {lower[i]}"
    twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
    twoone = f"{lower[i - 2]} {lower[i - 1]}"
    threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
    threetwo = f"{lower[i - 3]} {lower[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lower) - 1 > i:
        zeroone = f"{lower[i]} {lower[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lower) - 1 > i + 1:
        zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _but_check_linear(lower: list[str], sentiments: list) -> list:
    """``SentimentIntensityAnalyzer._but_check`` in O(n log n), with its exact semantics.

    The original walks the scores and, for the k-th current value ``v``, rescales the *first*
    position holding a value equal to ``v`` (``list.index``), which is not always k: ``[4, 2]``
    before "but" becomes ``[1.0, 2]``. Here each value keeps a min-heap of the positions that held
    it; a position that has since changed value is dropped lazily when it reaches the top.
    """
    if "but" not in lower:
        return sentiments
    bi = lower.index("but")
    heaps: dict = {}
    for j, s in enumerate(sentiments):  # ascending positions: each list is already a heap
        heaps.setdefault(s, []).append(j)
    for k in range(len(sentiments)):
        sentiment = sentiments[k]
        heap = heaps[sentiment]
        while sentiments[heap[0]] != sentiment:
            heapq.heappop(heap)
        si = heap[0]
        if si < bi:
            new = sentiment * 0.5
        elif si > bi:
            new = sentiment * 1.5
        else:
            continue
        sentiments[si] = new
        if new != sentiment:
            heapq.heappush(heaps.setdefault(new, []), si)
    return sentiments
