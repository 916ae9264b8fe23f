"""A tiny in-memory world for the AMAE tests: morning posts reveal the day's mood, later listens follow it."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from amae.content.posts import ModalityPosts, PostContent, build_content
from amae.models.base import TrainData
from amae.protocol.split import EvalCases

DAY = 86_400


def tiny_world(n_users: int = 16, n_items: int = 20, n_days: int = 8, seed: int = 0,
               modalities: tuple[str, ...] = ("text", "visual")) -> SimpleNamespace:
    rng = np.random.default_rng(seed)
    mood = rng.integers(0, 4, (n_users, n_days))
    pu, pd_ = np.meshgrid(np.arange(n_users), np.arange(n_days), indexing="ij")
    post_user, post_day = pu.ravel(), pd_.ravel()
    post_time = post_day * DAY + 8 * 3600
    posts = {}
    for k, m in enumerate(modalities):
        dim = 6 + k
        feats = rng.normal(0, 0.3, (len(post_user), dim)).astype(np.float32)
        feats[np.arange(len(post_user)), mood[post_user, post_day]] += 2.0
        posts[m] = ModalityPosts.from_posts(post_user.astype(np.int64), post_time.astype(np.int64), feats)
    iu = np.repeat(post_user, 2)
    iday = np.repeat(post_day, 2)
    itime = iday * DAY + np.tile([14 * 3600, 18 * 3600], len(post_user))
    pick = rng.integers(0, n_items // 4, len(iu))  # item m has mood m % 4
    items = (pick * 4 + mood[iu, iday]).astype(np.int64)
    order = np.lexsort((itime, iu))
    iu, itime, items = iu[order], itime[order].astype(np.int64), items[order]
    is_fit = iday[order] < n_days - 2
    fit_rows = np.flatnonzero(is_fit)
    valid_rows = np.flatnonzero(~is_fit)
    train_end = np.full(n_users, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(train_end, iu[fit_rows], itime[fit_rows])
    negs = rng.integers(0, n_items, (len(valid_rows), 9))
    valid = EvalCases(iu[valid_rows], items[valid_rows], itime[valid_rows], negs, np.zeros(len(valid_rows), bool))
    return SimpleNamespace(posts=posts, users=iu, items=items, times=itime, fit_rows=fit_rows, valid=valid,
                           train_end=train_end, n_users=n_users, n_items=n_items)


def content_of(world: SimpleNamespace, **kwargs: object) -> PostContent:
    r = world.fit_rows
    return build_content(world.posts, world.n_users, world.users[r], world.times[r], world.train_end,
                         **kwargs)  # type: ignore[arg-type]


def train_data(world: SimpleNamespace, seed: int = 0, **kwargs: object) -> TrainData:
    r = world.fit_rows
    return TrainData(world.n_users, world.n_items, world.users[r], world.items[r], world.times[r],
                     valid=world.valid, rows=r, content=content_of(world, **kwargs), seed=seed)


FAST = {"epochs": 2, "stage1_epochs": 2, "progress": False, "batch_size": 64}


# -- tests --------------------------------------------------------------------------------------------
import pytest  # noqa: E402
import torch  # noqa: E402

from amae.content.posts import load_posts, noise_like, shuffle_post_users  # noqa: E402
from amae.data.io import DataError  # noqa: E402
from amae.models import REGISTRY  # noqa: E402
from amae.models.amae import DMFAMAE, MFAMAE  # noqa: E402
from amae.models.amae_module import AMAEModule  # noqa: E402
from amae.training import fit  # noqa: E402


@pytest.fixture(scope="module")
def world() -> SimpleNamespace:
    return tiny_world()


def _ae_state(model: MFAMAE) -> dict[str, torch.Tensor]:
    module: AMAEModule = model.module  # type: ignore[assignment]
    return {k: v.detach().clone() for k, v in module.aes.state_dict().items()}


def _fit_recording_stage1(cls: type, world: SimpleNamespace, **params: object) -> tuple[object, dict, dict]:
    """Fit and return (model, AE weights right after stage 1, AE weights at the end)."""
    model = cls(**{**FAST, **params})
    after_stage1: dict = {}
    original = model._stage1

    def recording(*args: object) -> object:
        stage = original(*args)  # the declared stage 1: record the weights when it finishes
        if stage is not None:
            done = stage.finish

            def finish(history: list[dict]) -> None:
                done(history)
                after_stage1.update(_ae_state(model))

            stage.finish = finish
        return stage

    model._stage1 = recording
    fit(model, train_data(world))
    return model, after_stage1, _ae_state(model)


def test_registered_and_needs_content() -> None:
    assert REGISTRY["mf+amae"] is MFAMAE and REGISTRY["dmf+amae"] is DMFAMAE
    assert MFAMAE.needs_content and DMFAMAE.needs_content


@pytest.mark.parametrize("cls", [MFAMAE, DMFAMAE])
def test_stage2_fine_tunes_autoencoders(world: SimpleNamespace, cls: type) -> None:
    model, s1, final = _fit_recording_stage1(cls, world)
    assert model.stage1_history and len(model.history) == 2
    assert any(not torch.equal(s1[k], final[k]) for k in s1)


def test_no_finetune_freezes_autoencoders(world: SimpleNamespace) -> None:
    model, s1, final = _fit_recording_stage1(MFAMAE, world, no_finetune=True)
    assert all(torch.equal(s1[k], final[k]) for k in s1)
    # The backbone still trains, and the parameters are trainable again afterwards.
    assert all(p.requires_grad for p in model.module.parameters())


@pytest.mark.parametrize("cls", [MFAMAE, DMFAMAE])
def test_round_trip_gives_identical_scores(world: SimpleNamespace, cls: type, tmp_path: Path) -> None:
    model = fit(cls(**FAST), train_data(world))
    users, items, times = world.valid.users, world.valid.candidates(), world.valid.times
    before = model.score(users, items, times)
    assert before.shape == items.shape and np.isfinite(before).all()
    model.save(tmp_path)
    assert not list(tmp_path.glob("*.pkl")) and (tmp_path / "content.safetensors").exists()
    loaded = cls.load(tmp_path)
    np.testing.assert_array_equal(loaded.score(users, items, times), before)
    for m, w in model.explain(users, items[:, 0], times).items():
        np.testing.assert_array_equal(loaded.explain(users, items[:, 0], times)[m], w)


def test_record_grouped_rows_score_as_flat_rows(world: SimpleNamespace) -> None:
    """Stage 2 on whole records (codes and attention per record, MF) gives the per-row logits and
    penalty of the flat path, which encodes unique records and copies their codes to every row."""
    from amae.models.amae_module import RecordContext

    model = fit(MFAMAE(**{**FAST, "code_dropout": 0.0, "global_dropout": 0.0}), train_data(world))
    module = model.module
    r = world.fit_rows
    records = RecordContext(model.encoder, world.users[r], world.times[r], torch.device("cpu"))
    rng = np.random.default_rng(3)
    picked = torch.as_tensor(rng.choice(len(r), 24, replace=False))
    users = torch.as_tensor(world.users[r])[picked]
    items = torch.as_tensor(rng.integers(0, world.n_items, (24, 4)))
    module.train()
    with torch.no_grad():
        grouped, penalty = module.grouped_logits(users, items, records(picked))
        flat_u, flat_i = users.repeat_interleave(4), items.reshape(-1)
        unique, inverse = torch.unique(picked.repeat_interleave(4), return_inverse=True)
        flat = module.record_logits(unique, inverse, flat_u, flat_i, records(unique))
        torch.testing.assert_close(grouped.reshape(-1), flat, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(penalty, module.penalty(flat_u, flat_i), rtol=1e-5, atol=1e-7)
    module.eval()


def test_store_pages_are_released_by_mapped_bytes(world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store smaller than the release budget is never released; past the budget, every batch that
    may have mapped that much releases its modality's pages."""
    import amae.models.amae_module as amae_module

    released: list[int] = []
    monkeypatch.setattr(amae_module, "release_pages", lambda x: released.append(id(x)))
    content = content_of(world)
    r = world.fit_rows
    records = amae_module.RecordContext(content.encoder, world.users[r], world.times[r], torch.device("cpu"))
    batches = [torch.arange(s, min(s + 8, len(r))) for s in range(0, len(r), 8)]
    for b in batches:
        records(b)
    assert released == []  # the whole store is a few KiB
    monkeypatch.setattr(amae_module.RecordContext, "RELEASE_BYTES", 1)
    for b in batches:
        records(b)
    text = id(content.encoder.posts["text"].features)
    assert released.count(text) == len(batches)  # every batch here reads at least one text post


def test_explain_weights_are_a_distribution(world: SimpleNamespace) -> None:
    model = fit(MFAMAE(**FAST), train_data(world))
    weights = model.explain(world.valid.users, world.valid.items, world.valid.times)
    assert set(weights) == {"text", "visual"}
    for w in weights.values():
        assert w.shape == (len(world.valid), 2)
        assert (w > 0).all()
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-6)


def test_context_changes_scores(world: SimpleNamespace) -> None:
    """Scores depend on the time (contextual posts), not just on user and item."""
    model = fit(MFAMAE(**FAST), train_data(world))
    users, items = world.valid.users[:20], world.valid.candidates()[:20]
    a = model.score(users, items, world.valid.times[:20])
    b = model.score(users, items, world.valid.times[:20] + 86_400)
    assert not np.allclose(a, b)


def test_residual_code_is_the_papers_mixture_of_the_raw_codes(world: SimpleNamespace) -> None:
    """``context_input="residual"``: the global code enters whole and the attention scales today's
    change, ``z_g + alpha_c (z_c - z_g)``, which is the paper's ``alpha_g z_g + alpha_c z_c``."""
    model = fit(MFAMAE(**FAST, context_input="residual"), train_data(world))
    module: AMAEModule = model.module  # type: ignore[assignment]
    module.eval()
    gen = torch.Generator().manual_seed(0)
    n, k, d = 4, 3, module.dim
    p, q = torch.randn(n, d, generator=gen), torch.randn(n, k, module.item_dim, generator=gen)
    codes = {m: torch.randn(n, 2, d, generator=gen) for m in module.modalities}
    with torch.no_grad():
        logits, weights = module.predict(p, q, codes)
        expected, at = torch.einsum("nd,nkd->nk", p, q[..., :d]), d
        for m in module.modalities:
            alpha = module.attention[m](codes[m], p, q)
            z_g, change = codes[m][:, None, 0], codes[m][:, None, 1]
            raw = z_g + change  # the window's own code
            paper = alpha[..., :1] * z_g + alpha[..., 1:] * raw
            expected += (paper * q[..., at : at + d]).sum(-1)
            torch.testing.assert_close(weights[m], alpha)
            at += d
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-5)
    # the former "deviation" mix weighs the global code by alpha_g instead: other logits
    module.residual = False
    with torch.no_grad():
        assert not torch.allclose(module.predict(p, q, codes)[0], logits, atol=1e-4)


def test_switches_change_the_architecture(world: SimpleNamespace) -> None:
    d = 16
    base = fit(MFAMAE(**FAST), train_data(world)).module
    assert base.backbone.item_weights.shape[1] == d * 3 and len(base.attention) == 2
    assert all(ae.decoder is not None for ae in base.aes.values())

    no_att = fit(MFAMAE(**FAST, no_attention=True), train_data(world))
    assert no_att.module.backbone.item_weights.shape[1] == d * 5 and len(no_att.module.attention) == 0
    with pytest.raises(ValueError, match="no attention"):
        no_att.explain(world.valid.users, world.valid.items, world.valid.times)

    no_rec = fit(MFAMAE(**FAST, no_reconstruction=True), train_data(world))
    assert all(ae.decoder is None for ae in no_rec.module.aes.values())
    assert no_rec.stage1_history  # cross-modal loss alone still trains stage 1

    glob = fit(MFAMAE(**FAST, contexts=["global"]), train_data(world))
    assert len(glob.module.attention) == 0 and glob.module.contexts == ["global"]
    w = glob.explain(world.valid.users, world.valid.items, world.valid.times)["text"]
    np.testing.assert_array_equal(w, np.tile([1.0, 0.0], (len(world.valid), 1)))

    dmf = fit(DMFAMAE(**FAST), train_data(world)).module  # the tracks' content in a table of its own
    assert dmf.backbone.item_tower.rest[-1].out_features == d and dmf.track_content is not None
    assert dmf.backbone.user_tower.rest[-1].out_features == d
    tower = fit(DMFAMAE(**FAST, track_content="backbone"), train_data(world)).module  # the paper's
    assert tower.backbone.item_tower.rest[-1].out_features == d * 3 and tower.track_content is None


@pytest.mark.parametrize("cls", [MFAMAE, DMFAMAE])
def test_track_content_table_is_apart_from_the_backbone(world: SimpleNamespace, cls: type, tmp_path: Path) -> None:
    """``track_content="table"``: the backbone's item side is d wide, each track's content vector
    (d per modality) is a trained row of its own table, penalised with the backbone's rows, and a
    saved model scores the same after loading."""
    d = 16
    model = cls(**FAST, track_content="table")
    built: list[torch.Tensor] = []
    build = model.build

    def recording(data: object) -> object:
        module = build(data)
        built.append(module.track_content.table.weight.detach().clone())
        return module

    model.build = recording
    fit(model, train_data(world))
    module: AMAEModule = model.module  # type: ignore[assignment]
    table = module.track_content.table.weight
    assert table.shape == (world.n_items, 2 * d) and module.item_dim == 3 * d
    assert module.backbone.items(torch.arange(3)).shape == (3, d)
    assert not torch.equal(built[0], table)  # stage 2 trained the rows
    module.train()
    u, i = torch.arange(4), torch.arange(4)
    with torch.no_grad():
        module.logits(u, i, {})
        assert module._track_l2 is not None
        assert float(module.penalty(u, i)) > float(module.backbone.penalty(u, i))
    module.eval()
    users, items, times = world.valid.users, world.valid.candidates(), world.valid.times
    before = model.score(users, items, times)
    model.save(tmp_path)
    np.testing.assert_array_equal(cls.load(tmp_path).score(users, items, times), before)
    with pytest.raises(ValueError, match="track_content"):
        cls(track_content="tower")


def test_single_modality_has_no_cross_modal_loss() -> None:
    one = tiny_world(modalities=("text",))
    model = fit(MFAMAE(**FAST, modalities=["text"], no_reconstruction=True), train_data(one))
    assert model.stage1_history == []  # nothing left to train in stage 1
    assert list(model.module.aes) == ["text"] and model.module.item_dim == 32


def test_literal_relu_and_bad_switches(world: SimpleNamespace) -> None:
    model = fit(MFAMAE(**FAST, literal_relu=True), train_data(world))
    z = model.module.aes["text"](torch.randn(50, 6))
    assert (z >= 0).all()
    with pytest.raises(ValueError, match="contexts"):
        MFAMAE(contexts=["yesterday"])
    with pytest.raises(ValueError, match="modalities"):
        MFAMAE(modalities=["audio"])
    with pytest.raises(ValueError, match="needs content"):
        fit(MFAMAE(**FAST), TrainData(2, 2, np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64)))


def test_encoder_contextual_matches_a_literal_reading(world: SimpleNamespace) -> None:
    """The store's range reads give the means and flags a post-by-post loop gives (design 5.1-5.2)."""
    from amae.content.posts import global_cutoffs

    content = content_of(world)
    enc = content.encoder
    r = world.fit_rows
    until = global_cutoffs(world.train_end, "train")
    for m, store in world.posts.items():
        feats = np.asarray(store.features, dtype=np.float64)
        raw, empty = enc.raw_contextual(m, world.users[r], world.times[r])
        for j, (u, t) in enumerate(zip(world.users[r], world.times[r], strict=True)):
            mine = store.user == u
            glob = feats[mine & (store.time < until[u])]
            np.testing.assert_allclose(enc.raw_global[m][u], glob.mean(0) if len(glob) else 0.0, atol=1e-5)
            window = mine & (store.time >= t - enc.window) & (store.time < t)
            assert empty[j] == (not window.any())
            np.testing.assert_allclose(raw[j], feats[window].mean(0) if window.any() else enc.raw_global[m][u],
                                       atol=1e-5)
    # Standardiser fitted on the training records: they are centred, with unit spread.
        ctx, _ = enc.contextual(world.users[r], world.times[r])
        np.testing.assert_allclose(ctx[m].mean(0), 0.0, atol=1e-4)
        np.testing.assert_allclose(ctx[m].std(0), 1.0, atol=1e-3)
    # Listens at 14:00 see the 08:00 post; a time before any post falls back to the global vector.
    _, empty = enc.contextual(world.users[r], world.times[r])
    assert not empty["text"].any()
    _, early = enc.contextual(np.array([0]), np.array([3600]))
    assert early["text"].all()
    assert enc.context_counts(0, int(world.times[r][0])) == {m: 1 for m in world.posts}


def test_global_window_train_excludes_later_posts(world: SimpleNamespace) -> None:
    train = content_of(world).encoder.global_matrix()["text"]
    everything = content_of(world, global_window="all").encoder.global_matrix()["text"]
    assert not np.allclose(train, everything)


def _fake_workspace(tmp_path: Path, world: SimpleNamespace) -> Path:
    """A workspace with posts and text features written directly (no extraction run)."""
    import pandas as pd

    from amae.data.io import write_json

    store = world.posts["text"]
    n = len(store.user)
    (tmp_path / "data").mkdir(parents=True)
    pd.DataFrame({"post_idx": np.arange(n), "user_idx": store.user, "timestamp": store.time}).to_parquet(
        tmp_path / "data" / "posts.parquet")
    feats = tmp_path / "features" / "text"
    feats.mkdir(parents=True)
    np.save(feats / "text_h.npy", store.features[:, :3].copy())
    np.save(feats / "text_d.npy", store.features[:, 3:].copy())
    for g, dim in (("text_h", 3), ("text_d", store.features.shape[1] - 3)):
        write_json(feats / f"{g}.json", {"names": [f"{g}{i}" for i in range(dim)], "metadata": {}, "dim": dim})
    empty = np.zeros(n, bool)
    empty[0] = True  # an empty text is left out of the averages
    pd.DataFrame({"post_idx": np.arange(n), "text_empty": empty}).to_parquet(feats / "flags.parquet")
    return tmp_path


def test_prepare_content_from_workspace(world: SimpleNamespace, tmp_path: Path) -> None:
    ws = _fake_workspace(tmp_path / "ws", world)
    dataset = SimpleNamespace(n_users=world.n_users, interactions=__import__("pandas").DataFrame(
        {"user_idx": world.users, "item_idx": world.items, "timestamp": world.times}))
    split = SimpleNamespace(fit_rows=world.fit_rows, train_end=world.train_end)
    with pytest.raises(DataError, match=r"group 'visual_h' is missing \(run 'amae features .* --modality visual"):
        MFAMAE.prepare_content(ws, dataset, split, {})  # asked for (the default), never extracted
    content = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"]})
    assert content.source["groups"] == {"text": ["text_h", "text_d"]}
    assert content.source["absent_modalities"] == {}
    assert content.encoder.posts["text"].features.shape == (len(world.posts["text"].user) - 1, 6)
    hand = MFAMAE.prepare_content(ws, dataset, split, {"groups": ["handcrafted"], "modalities": ["text"]})
    assert hand.encoder.dims() == {"text": 3}
    noise = load_posts(ws, {"text": ["text_h", "text_d"]}, noise_features=True)["text"].features
    assert not np.allclose(noise, content.encoder.posts["text"].features)
    # The saved model re-loads its posts from the workspace path (nothing embedded).
    data = TrainData(world.n_users, world.n_items, world.users[world.fit_rows], world.items[world.fit_rows],
                     world.times[world.fit_rows], valid=world.valid, rows=world.fit_rows, content=content)
    model = fit(MFAMAE(**FAST, modalities=["text"]), data)
    model.save(tmp_path / "model")
    loaded = MFAMAE.load(tmp_path / "model")
    v = world.valid
    np.testing.assert_array_equal(loaded.score(v.users, v.candidates(), v.times),
                                  model.score(v.users, v.candidates(), v.times))


def test_pca_reduced_store_depends_on_the_split_and_reloads(world: SimpleNamespace, tmp_path: Path) -> None:
    """``pca_dim`` projects the deep group (fitted on training posts), so the store follows the split."""
    ws = _fake_workspace(tmp_path / "ws", world)
    dataset = SimpleNamespace(n_users=world.n_users, interactions=pd.DataFrame(
        {"user_idx": world.users, "item_idx": world.items, "timestamp": world.times}))
    split = SimpleNamespace(fit_rows=world.fit_rows, train_end=world.train_end)
    full = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"]})
    reduced = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"], "pca_dim": 2})
    assert full.encoder.dims() == {"text": 6} and reduced.encoder.dims() == {"text": 3 + 2}
    assert reduced.source["store"] != full.source["store"]
    earlier = SimpleNamespace(fit_rows=world.fit_rows, train_end=world.train_end - DAY)
    other = MFAMAE.prepare_content(ws, dataset, earlier, {"modalities": ["text"], "pca_dim": 2})
    assert other.source["store"] != reduced.source["store"]  # a new split refits the reduction
    data = TrainData(world.n_users, world.n_items, world.users[world.fit_rows], world.items[world.fit_rows],
                     world.times[world.fit_rows], valid=world.valid, rows=world.fit_rows, content=reduced)
    model = fit(MFAMAE(**FAST, modalities=["text"], pca_dim=2), data)
    model.save(tmp_path / "model")
    v = world.valid
    np.testing.assert_array_equal(MFAMAE.load(tmp_path / "model").score(v.users, v.candidates(), v.times),
                                  model.score(v.users, v.candidates(), v.times))


def test_decoders_are_not_in_stage2(world: SimpleNamespace) -> None:
    model, s1, final = _fit_recording_stage1(MFAMAE, world)
    decoders = [k for k in s1 if ".decoder." in k]
    encoders = [k for k in s1 if ".encoder." in k]
    assert decoders and encoders
    assert all(torch.equal(s1[k], final[k]) for k in decoders)  # stage 2 leaves them alone
    assert any(not torch.equal(s1[k], final[k]) for k in encoders)


def test_stage1_trains_only_switched_on_contexts(world: SimpleNamespace, monkeypatch: pytest.MonkeyPatch) -> None:
    """A global-only row never sees the contextual inputs in stage 1 (and vice versa)."""
    from amae.models import autoencoder

    seen: list[int] = []
    original = autoencoder.Autoencoder.reconstruction_loss

    def recording(self: object, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        seen.append(int(x.shape[0]))
        return original(self, x, z)  # type: ignore[arg-type]

    monkeypatch.setattr(autoencoder.Autoencoder, "reconstruction_loss", recording)
    model = MFAMAE(**{**FAST, "stage1_epochs": 1}, contexts=["global"])
    model._stage1 = lambda *a, _orig=model._stage1: (seen.clear(), _orig(*a))[1]  # type: ignore[method-assign]
    fit(model, train_data(world))
    n_batches = -(-len(world.fit_rows) // FAST["batch_size"])
    assert len(seen) == n_batches * 2  # one context x two modalities per batch, not two contexts


def test_noise_control_keeps_shape_and_per_dimension_moments() -> None:
    rng = np.random.default_rng(0)
    x = (rng.normal(3.0, 0.5, (4000, 3)) * np.array([1.0, 10.0, 0.1])).astype(np.float32)
    noise = noise_like(x, seed=1)
    assert noise.shape == x.shape and noise.dtype == np.float32
    np.testing.assert_allclose(noise.mean(0), x.mean(0), rtol=0.05)
    np.testing.assert_allclose(noise.std(0), x.std(0), rtol=0.05)
    assert abs(np.corrcoef(noise[:, 0], x[:, 0])[0, 1]) < 0.05
    np.testing.assert_array_equal(noise, noise_like(x, seed=1))


def test_shuffle_control_moves_every_users_posts_to_another_user() -> None:
    users = np.repeat(np.array([0, 2, 3, 7, 9]), [3, 1, 4, 2, 5])
    moved = shuffle_post_users(users, seed=4)
    assert not np.any(moved == users)  # nobody keeps their own posts
    assert sorted(np.unique(moved)) == sorted(np.unique(users))  # only users who posted receive posts
    for u in np.unique(users):  # a user's posts move together, to one other user
        assert len(np.unique(moved[users == u])) == 1
    np.testing.assert_array_equal(moved, shuffle_post_users(users, seed=4))


def test_controls_in_prepare_content(world: SimpleNamespace, tmp_path: Path) -> None:
    ws = _fake_workspace(tmp_path / "ws", world)
    dataset = SimpleNamespace(n_users=world.n_users, interactions=__import__("pandas").DataFrame(
        {"user_idx": world.users, "item_idx": world.items, "timestamp": world.times}))
    split = SimpleNamespace(fit_rows=world.fit_rows, train_end=world.train_end)
    real = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"]})
    noise = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"], "control": "noise"})
    shuffled = MFAMAE.prepare_content(ws, dataset, split, {"modalities": ["text"], "control": "shuffle"})
    r, n, s = (c.encoder.posts["text"] for c in (real, noise, shuffled))
    assert n.features.shape == r.features.shape and not np.allclose(n.features, r.features)
    # the same posts at the same times (the store is sorted by user, so align them by time and features) ...
    def table(store: ModalityPosts) -> pd.DataFrame:
        f = np.asarray(store.features)
        return pd.DataFrame({"time": store.time, "f0": f[:, 0], "f1": f[:, 1], "user": store.user})

    both = table(r).merge(table(s), on=["time", "f0", "f1"], suffixes=("_real", "_shuffled"), validate="1:1")
    assert len(both) == r.n_posts == s.n_posts
    assert not np.any(both["user_real"] == both["user_shuffled"])  # ... given to other users
    assert noise.source["control"] == "noise" and shuffled.source["control"] == "shuffle"
    with pytest.raises(ValueError, match="control"):
        MFAMAE(control="sideways")
