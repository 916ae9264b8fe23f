"""Bag of words and the stacked denoising autoencoder behind MF_S / PMF_S."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from amae.content.words import user_bag_of_words
from amae.models.sdae import sdae_inputs
from amae.training.fitting import fit_sdae


def test_bag_of_words_counts_users_tokens_and_caps_vocabulary() -> None:
    texts = ["rock rock guitar http://x.io/a !!", "jazz piano @bob", "rock piano 123", "guitar"]
    bow = user_bag_of_words(np.array([0, 1, 1, 2]), texts, n_users=4, max_vocab=3)
    # totals: rock 3, piano 2, guitar 2, jazz 1 -> top 3, ties by text
    assert bow.vocabulary == ["rock", "guitar", "piano"]
    dense = bow.counts.toarray()
    np.testing.assert_array_equal(dense, [[2, 1, 0], [1, 0, 2], [0, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="texts"):
        user_bag_of_words(np.array([0]), ["a", "b"], n_users=1)


def test_inputs_are_scaled_into_unit_interval() -> None:
    x = sdae_inputs(sp.csr_matrix(np.array([[4.0, 1.0, 0.0], [0.0, 0.0, 0.0]])))
    dense = x.toarray()
    assert dense[0, 0] == pytest.approx(1.0) and 0 < dense[0, 1] < 1 and dense[1].sum() == 0


def topic_matrix(seed: int = 0) -> sp.csr_matrix:
    """Two topics of 20 words each; every user uses most words of one topic."""
    rng = np.random.default_rng(seed)
    x = np.zeros((60, 40), np.float32)
    for u in range(60):
        lo = 0 if u % 2 else 20
        x[u, lo:lo + 20] = rng.random(20) < 0.7
    return sp.csr_matrix(x)


def test_reconstruction_loss_decreases_and_codes_separate_topics() -> None:
    x = topic_matrix()
    result = fit_sdae(x, sizes=[16, 4], noise=0.3, epochs=60, lr=1e-2, batch_size=32, seed=0)
    assert result.losses[-1] < 0.8 * result.losses[0]
    assert result.codes.shape == (60, 4)
    odd, even = result.codes[1::2].mean(0), result.codes[::2].mean(0)
    spread = result.codes.std(0).mean()
    assert np.linalg.norm(odd - even) > spread  # the code tells the two topics apart


def test_codes_are_deterministic_with_a_seed() -> None:
    x = topic_matrix()
    a = fit_sdae(x, sizes=[8, 3], epochs=3, seed=5).codes
    b = fit_sdae(x, sizes=[8, 3], epochs=3, seed=5).codes
    c = fit_sdae(x, sizes=[8, 3], epochs=3, seed=6).codes
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_users_without_posts_share_one_code_and_bad_noise_is_refused() -> None:
    x = sp.vstack([topic_matrix()[:10], sp.csr_matrix((3, 40), dtype=np.float32)]).tocsr()
    codes = fit_sdae(x, sizes=[8, 3], epochs=2, seed=0).codes
    np.testing.assert_array_equal(codes[10], codes[12])
    with pytest.raises(ValueError, match="noise"):
        fit_sdae(x, noise=1.0)
