"""DMF towers: the sparse first layer, and hiding a training pair from its own input."""

from __future__ import annotations

import numpy as np
import torch

from amae.models.dmf import DMFModule, SparseTower, csr

# 4 users x 5 items
USERS = np.array([0, 0, 0, 1, 1, 2, 3, 3])
ITEMS = np.array([0, 2, 4, 1, 2, 3, 0, 4])


def tower(users: np.ndarray, items: np.ndarray, seed: int = 0) -> SparseTower:
    torch.manual_seed(seed)
    return SparseTower(*csr(users, items, 4), 5, [6, 3], init_std=0.1)


def test_tower_equals_dense_normalised_product() -> None:
    t = tower(USERS, ITEMS)
    dense = np.zeros((4, 5), dtype=np.float32)
    dense[USERS, ITEMS] = 1.0
    scaled = torch.as_tensor(dense / np.sqrt(dense.sum(1, keepdims=True)))
    expected = t.rest(scaled @ t.first.weight + t.bias)
    got = t(torch.tensor([2, 0, 3, 1, 0]))
    torch.testing.assert_close(got, expected[[2, 0, 3, 1, 0]])


def test_hidden_column_is_as_if_absent_from_the_matrix() -> None:
    t = tower(USERS, ITEMS)
    keep = ~((USERS == 0) & (ITEMS == 2))
    without = tower(USERS[keep], ITEMS[keep])
    without.load_state_dict({k: v for k, v in t.state_dict().items() if k not in ("indptr", "indices")},
                            strict=False)
    rows, hide = torch.tensor([0, 0, 1]), torch.tensor([2, -1, -1])
    got = t(rows, hide)
    torch.testing.assert_close(got[0], without(torch.tensor([0]))[0])
    torch.testing.assert_close(got[1:], t(rows[1:]))  # -1 hides nothing


def test_contains_matches_the_training_pairs() -> None:
    t = tower(USERS, ITEMS)
    u = torch.arange(4).repeat_interleave(5)
    i = torch.arange(5).repeat(4)
    dense = np.zeros((4, 5), dtype=bool)
    dense[USERS, ITEMS] = True
    assert t.contains(u, i).numpy().tolist() == dense.reshape(-1).tolist()


def test_hiding_applies_in_training_only() -> None:
    torch.manual_seed(0)
    module = DMFModule(csr(USERS, ITEMS, 4), csr(ITEMS, USERS, 5), 4, 5, [6, 3], 0.1, False,
                       hide_target=True)
    u, i = torch.tensor([0, 0]), torch.tensor([2, 1])  # a training pair, then a non-pair
    module.train()
    hidden = module.logits(u, i)
    module.eval()
    shown = module.logits(u, i)
    assert not torch.allclose(hidden[0], shown[0])  # the pair's own entry was left out
    torch.testing.assert_close(hidden[1], shown[1])  # nothing to hide for a non-pair


def test_a_single_entry_is_not_hidden() -> None:
    # User 2 has one item: emptying the row would make it look like a user (or an item) nobody
    # has seen, which at test time is a different case altogether.
    t = tower(USERS, ITEMS)
    torch.testing.assert_close(t(torch.tensor([2]), torch.tensor([3])), t(torch.tensor([2])))


def test_membership_follows_a_loaded_matrix() -> None:
    t = tower(USERS, ITEMS)
    assert bool(t.contains(torch.tensor([2]), torch.tensor([3])))
    t.load_state_dict(tower(USERS, (ITEMS + 1) % 5).state_dict())  # same shapes, other entries
    assert t.contains(torch.tensor([2, 2]), torch.tensor([3, 4])).tolist() == [False, True]
