"""AMAE: attentive multimodal autoencoders on top of an MF or DMF backbone (docs/design.md section 6.4).

Per modality an autoencoder encodes the user's global vector ``x^g`` and contextual vector ``x^c``
(posts of the 24 h before the interaction); attention over the two codes, conditioned on the user
and the item, gives ``z^A``; the score is ``sigmoid([p_u, z^A, z^B, ...] . q_m)`` (Eq. 13) with
``q_m`` of size d(|M|+1). Training has two stages: (1) the autoencoders alone on all training
rows' g and c inputs with reconstruction + cross-modal + L2 (Eq. 9); (2) the whole model with BCE
+ L2 through the shared pointwise trainer, early-stopped on validation NDCG@10.

Switches (model params, so they travel through config and ``--param``): ``modalities``, ``groups``,
``contexts`` (Table III), ``no_reconstruction``, ``no_cross_modal``, ``no_finetune``,
``no_attention`` (Table IV), ``literal_relu``, ``control`` (``noise`` or ``shuffle``: the content controls).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from amae.content.posts import (
    ContextEncoder,
    ModalityPosts,
    PostContent,
    relocate_source,
    reopen_posts,
    resolve_control,
    select_groups,
)
from amae.content.standardize import Standardizer
from amae.data.io import atomic_path, read_json
from amae.models.amae_module import (
    CONTEXT_INPUTS,
    CONTEXTS,
    TRACK_CONTENT,
    AMAEModule,
    ContextBatch,
    RecordContext,
    WindowRows,
)
from amae.models.autoencoder import cross_modal_loss
from amae.models.base import LEARNING_SPACE, TrainData, as_2d, register
from amae.models.dmf import DMFModule, csr, placeholder_csr
from amae.models.mf import MFModule
from amae.models.repeat import RepeatTerm, repeat_loss
from amae.models.stages import MinibatchStage, PointwiseStage, Stage, StepFn
from amae.models.torch_base import TorchRecommender


class AMAEBase(TorchRecommender):
    """Shared AMAE logic; subclasses pick the backbone."""

    content_kind: ClassVar[str | None] = "posts"
    backbone_name: ClassVar[str] = ""
    # 2: empty windows encoded once, dense weights' L2 as weight decay; 3: the deviation contextual code,
    # per-code dropout and DMF's score_hidden (a saved model of 2 would be read with the new defaults);
    # 4: the residual contextual code (the global code at weight 1, the attention scales today's change);
    # 5: the re-listening term (repeat) and lr 2.5e-4
    version = 5
    default_params: dict[str, Any] = {
        "dim": 16, "init_std": 0.01, "ae_hidden": 32,
        "modalities": ["text", "visual"], "groups": ["handcrafted", "deep"], "contexts": list(CONTEXTS),
        "window": 86_400, "global_window": "train",
        "no_reconstruction": False, "no_cross_modal": False, "no_finetune": False, "no_attention": False,
        "literal_relu": False, "recon_weight": 1.0, "cross_weight": 1.0,
        "stage1_epochs": 10, "stage1_lr": 3e-3, "stage1_l2": 1e-5,
        "control": "none", "noise_features": False, "noise_seed": 0, "embed_posts": False, "pca_dim": 0,
        "lr": 2.5e-4, "code_dropout": 0.3, "global_dropout": 0.7, "group_records": True,
        "context_input": "residual", "repeat": True,
        "track_content": "backbone",
    }

    search_space: ClassVar[dict[str, tuple]] = {**LEARNING_SPACE, "code_dropout": ("float", 0.0, 0.9, False),
                                                "cross_weight": ("float", 0.1, 10.0, True)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        contexts = list(self.params["contexts"])
        if not contexts or any(c not in CONTEXTS for c in contexts):
            raise ValueError(f"contexts must be a non-empty subset of {list(CONTEXTS)}, got {contexts}")
        if self.params["context_input"] not in CONTEXT_INPUTS:
            raise ValueError(f"context_input must be one of {list(CONTEXT_INPUTS)}, "
                             f"got {self.params['context_input']!r}")
        if self.params["track_content"] not in TRACK_CONTENT:
            raise ValueError(f"track_content must be one of {list(TRACK_CONTENT)}, "
                             f"got {self.params['track_content']!r}")
        select_groups(list(self.params["modalities"]), list(self.params["groups"]))  # validates
        resolve_control(self.params)  # validates
        self.encoder: ContextEncoder | None = None
        self.source: dict[str, Any] = {}
        self.stage1_history: list[dict] = []
        self._state: dict[str, Any] = {}
        self._repeat: RepeatTerm | None = None
        #: users with fit records: the average of their vectors stands in for a cold-start user
        #: (None in a model saved before it was kept: then every user's row counts)
        self.trained_users: np.ndarray | None = None
        self._neutral: tuple[nn.Module, torch.Tensor, dict[str, torch.Tensor]] | None = None

    # -- content ----------------------------------------------------------------------------------
    @classmethod
    def content_options(cls, params: dict[str, Any]) -> dict[str, Any]:
        """The ``posts`` content this variant reads: its modalities, groups, control, window."""
        p = {**cls.default_params, **params}
        return {"modalities": list(p["modalities"]), "groups": list(p["groups"]), "control": resolve_control(p),
                "noise_seed": int(p["noise_seed"]), "window": int(p["window"]),
                "global_window": str(p["global_window"]), "pca_dim": int(p["pca_dim"])}

    # -- building ---------------------------------------------------------------------------------
    def _config(self) -> dict[str, Any]:
        return {k: self.params[k] for k in ("dim", "ae_hidden", "contexts", "no_attention", "no_reconstruction",
                                             "literal_relu", "code_dropout", "global_dropout", "context_input",
                                             "track_content", "init_std")}

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        raise NotImplementedError

    def _make(self, state: dict[str, Any]) -> AMAEModule:
        cfg = self._config()
        n_ctx = len([c for c in CONTEXTS if c in cfg["contexts"]])
        per_mod = cfg["dim"] * (n_ctx if cfg["no_attention"] else 1)
        item_dim = cfg["dim"] + (per_mod * len(state["dims"]) if cfg["track_content"] == "backbone" else 0)
        return AMAEModule(self._backbone(state, item_dim), state["dims"], state["n_users"], cfg, state["n_items"])

    def build(self, data: TrainData) -> nn.Module:
        content = data.content
        assert isinstance(content, PostContent)
        self._repeat = RepeatTerm.of(data.users, data.items, data.n_items) if self.params["repeat"] else None
        self._state = {"n_users": data.n_users, "n_items": data.n_items, "dims": content.encoder.dims(),
                       "repeat_pairs": RepeatTerm.size(self._repeat)}
        self._backbone_data(data)
        module = self._make(self._state)
        for m, g in content.encoder.global_matrix().items():
            module.global_vectors(m).copy_(torch.as_tensor(g))
        return module

    def _backbone_data(self, data: TrainData) -> None:
        """Hook for backbones that need the training matrix (DMF)."""

    def extra_state(self) -> dict[str, Any]:
        enc = self.encoder
        return {**self._state, "standardizers": {m: s.to_dict() for m, s in enc.standardizers.items()} if enc else {},
                "source": self.source, "window": enc.window if enc else int(self.params["window"]),
                "global_all": bool(enc is not None and enc.global_until is None),
                "stage1_history": self.stage1_history}

    def rebuild(self, state: dict[str, Any]) -> nn.Module:
        self._state = {k: state[k] for k in ("n_users", "n_items", "dims")}
        self._state["repeat_pairs"] = int(state.get("repeat_pairs", 0))
        self._repeat = RepeatTerm.placeholder(self._state["repeat_pairs"], state["n_items"])
        self._rebuild_backbone_data(state)
        return self._make(self._state)

    def _rebuild_backbone_data(self, state: dict[str, Any]) -> None:
        """Hook: placeholder buffers of the right shapes before loading weights (DMF)."""

    # -- fitting: the stages amae.training runs ----------------------------------------------------
    def setup(self, data: TrainData) -> None:
        if not isinstance(data.content, PostContent):
            raise ValueError(f"{self.name} needs content (TrainData.content: the 'posts' user content from "
                             f"{type(self).__name__}.prepare_content or amae.content.posts.build_content)")
        self.encoder, self.source = data.content.encoder, dict(data.content.source)
        self.trained_users, self._neutral = np.unique(np.asarray(data.users, dtype=np.int64)), None

    def stages(self, data: TrainData) -> list[Stage]:
        """Stage 1 (Eq. 9, the autoencoders alone) when it has a loss, then stage 2 (the whole model)."""
        module: AMAEModule = self.module  # type: ignore[assignment]
        assert self.encoder is not None
        records = RecordContext(self.encoder, data.users, data.times, self.device)
        users = torch.as_tensor(data.users, dtype=torch.long, device=self.device)
        out: list[Stage] = []
        stage1 = self._stage1(module, users, records, data.seed)
        if stage1 is not None:
            out.append(stage1)
        self.stage1_history = []
        content_params = module.content_parameters()
        step = self._stage2_step(module, records)

        def freeze(flag: bool) -> None:
            for p in content_params:
                p.requires_grad_(flag)

        no_finetune = bool(self.params["no_finetune"])
        out.append(PointwiseStage(step, params=module.stage2_parameters, decayed=module.decayed_parameters,
                                  start=(lambda: freeze(False)) if no_finetune else None,
                                  finish=(lambda: freeze(True)) if no_finetune else None))
        return out

    def _stage2_step(self, module: AMAEModule, records: RecordContext) -> StepFn:
        """Stage 2's loss on a batch: BCE + L2, per record where the batch holds whole records."""
        l2 = self.train_config.l2
        contextual = "contextual" in module.contexts
        group = 1 + int(self.train_config.n_negatives)
        by_record = bool(self.train_config.group_records) and hasattr(module.backbone, "grouped")

        def step(record: torch.Tensor, u: torch.Tensor, i: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if by_record and len(record) % group == 0:
                rec = record.view(-1, group)
                if bool((rec == rec[:, :1]).all()):  # whole records (the batch size is a multiple of g)
                    ctx = records(rec[:, 0]) if contextual else {}
                    users, items, labels = u.view(-1, group)[:, :1], i.view(-1, group), y.view(-1, group)
                    logits, penalty = module.grouped_logits(users[:, 0], items, ctx)
                    return (F.binary_cross_entropy_with_logits(logits, labels) + l2 * penalty
                            + repeat_loss(module.backbone.repeat, logits, users, items, labels))
            unique, inverse = torch.unique(record, return_inverse=True)
            ctx = records(unique) if contextual else {}
            logits = module.record_logits(unique, inverse, u, i, ctx)
            return (F.binary_cross_entropy_with_logits(logits, y) + l2 * module.penalty(u, i)
                    + repeat_loss(module.backbone.repeat, logits, u, i, y))

        return step

    def _stage1(self, module: AMAEModule, users: torch.Tensor, records: RecordContext,
                seed: int) -> MinibatchStage | None:
        """Eq. 9: autoencoders on all fit rows' g and c inputs (reconstruction + cross-modal + L2)."""
        recon = not self.params["no_reconstruction"]
        cross = not self.params["no_cross_modal"] and len(module.modalities) > 1
        epochs = int(self.params["stage1_epochs"])
        if not (recon or cross) or epochs <= 0:
            return None
        w_rec, w_cross, l2 = (float(self.params[k]) for k in ("recon_weight", "cross_weight", "stage1_l2"))

        def loss(rows: np.ndarray) -> torch.Tensor:
            b = torch.from_numpy(rows)
            u = users[b.to(users.device)]
            ctx = records(b) if "contextual" in module.contexts else {}
            codes: dict[str, dict[str, torch.Tensor]] = {}
            total = torch.zeros((), device=users.device)
            for m in module.modalities:
                ae = module.aes[m]
                # Only the switched-on contexts: a G-only or C-only row is never pretrained on the other.
                g = module.global_vectors(m)[u]
                xs = {c: g if c == "global" else ctx[m].dense(g) for c in module.contexts}
                codes[m] = {c: ae(x) for c, x in xs.items()}
                if recon:
                    total = total + w_rec * sum(ae.reconstruction_loss(xs[c], codes[m][c]) for c in xs)
                total = total + l2 * ae.l2()
            if cross:
                for a, bm in ((a, bm) for a in module.modalities for bm in module.modalities if a != bm):
                    for c in module.contexts:
                        total = total + w_cross * cross_modal_loss(codes[a][c], codes[bm][c], u)
            return total

        def keep(history: list[dict]) -> None:
            self.stage1_history = history

        return MinibatchStage("stage1", module, len(users), loss, module.content_parameters(), epochs,
                              float(self.params["stage1_lr"]), self.train_config.batch_size, seed, finish=keep)

    # -- scoring ----------------------------------------------------------------------------------
    def _context(self, users: np.ndarray, times: np.ndarray | None,
                 encoder: ContextEncoder | None = None) -> ContextBatch:
        """The cases' non-empty windows (in ``encoder``, the model's own by default); without times
        (or posts) every window is empty, so the global vector stands in for all of them."""
        encoder = encoder if encoder is not None else self.encoder
        if times is None or encoder is None:
            return {}
        ranges = encoder.windows(np.asarray(users, dtype=np.int64), np.asarray(times, dtype=np.int64))
        return WindowRows.of(encoder.window_rows(ranges), self.device)

    @torch.inference_mode()
    def _score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None
               ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self.module is None:
            raise RuntimeError(f"{self.name}: score() before fit() or load()")
        users, items = as_2d(users, items)
        self.module.eval()
        logits, weights = self.module.score_block(torch.tensor(users, device=self.device),
                                                  torch.tensor(items, device=self.device),
                                                  self._context(users, times))
        return logits.float().cpu().numpy(), {m: w.float().cpu().numpy() for m, w in weights.items()}

    def score(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
        return self._score(users, items, times)[0]

    def explain(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None
                ) -> dict[str, np.ndarray]:
        """Attention weights (global, contextual) per modality: (n, 2) for (n,) items, (n, k, 2) for (n, k).

        With a single context switched on, that context has weight 1. Raises for ``no_attention``.
        """
        if self.params["no_attention"] and len(self.params["contexts"]) > 1:
            raise ValueError(f"{self.name}: no_attention model has no attention weights to explain")
        flat = np.asarray(items).ndim == 1
        _, weights = self._score(users, items, times)
        return self._all_weights(weights, len(users), 1 if flat else np.asarray(items).shape[1], flat)

    def _all_weights(self, weights: dict[str, np.ndarray], n: int, k: int, flat: bool) -> dict[str, np.ndarray]:
        """Every modality's (global, contextual) weights: with one context switched on, that context
        has weight 1 (the network computes no attention then)."""
        module: AMAEModule = self.module  # type: ignore[assignment]
        out = {}
        for m in module.modalities:
            if m in weights:
                w = weights[m]
            else:
                w = np.zeros((n, k, 2), dtype=np.float32)
                w[..., CONTEXTS.index(module.contexts[0])] = 1.0
            out[m] = w[:, 0, :] if flat else w
        return out

    # -- cold start: users the model has no trained row for ----------------------------------------
    #: what stands in for a cold-start user's global vector (see :meth:`score_content_only`)
    COLD_GLOBALS: ClassVar[tuple[str, ...]] = ("neutral", "posts")

    @torch.inference_mode()
    def score_content_only(self, users: np.ndarray, items: np.ndarray, times: np.ndarray | None = None,
                           encoder: ContextEncoder | None = None, global_from: str = "posts"
                           ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Logits (n, k) and attention weights (n, k, 2) per modality of users ranked from posts alone.

        For a user without a trained row (unknown to the model, or without fit records): ``p_u``
        is the average trained user's (:meth:`neutral_inputs`), the contextual input the mean of
        the posts in ``encoder`` (the model's, or a request's :meth:`ContextEncoder.for_user` copy;
        ``users`` index it) in the window before each time, then Eq. 10-13 as for anyone. The global
        input (``"posts"``) is the mean of the user's posts *before* that window, as a known user's
        training-period vector is for a test case, so the contextual code is still the window's
        deviation from the user's own normal (language and topics cancel, the mood stays); a user
        with no earlier post gets the average trained user's, which ``"neutral"`` uses always.
        ``benchmarks/cold_start.py`` measures both (README: level within seed noise). Weights are empty for a
        ``no_attention`` model.
        """
        if self.module is None:
            raise RuntimeError(f"{self.name}: score_content_only() before fit() or load()")
        if global_from not in self.COLD_GLOBALS:
            raise ValueError(f"global_from must be one of {list(self.COLD_GLOBALS)}, got {global_from!r}")
        enc = encoder if encoder is not None else self.encoder
        users, items = as_2d(users, items)
        module: AMAEModule = self.module  # type: ignore[assignment]
        module.eval()
        p, g = self.neutral_inputs()
        rows = {m: x.expand(len(users), -1) for m, x in g.items()}
        if global_from == "posts" and enc is not None:
            rows = self._posts_global(enc, users, times, rows)
        logits, weights = module.score_rows(p.expand(len(users), -1), rows, torch.tensor(items, device=self.device),
                                            self._context(users, times, enc))
        out = {m: w.float().cpu().numpy() for m, w in weights.items()}
        if self.params["no_attention"] and len(self.params["contexts"]) > 1:
            return logits.float().cpu().numpy(), {}
        return logits.float().cpu().numpy(), self._all_weights(out, len(users), items.shape[1], False)

    def neutral_inputs(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``p`` (d,) and the standardised global vector (D,) per modality of the average trained
        user (:meth:`AMAEModule.neutral_user`), computed once per trained module."""
        module: AMAEModule = self.module  # type: ignore[assignment]
        if self._neutral is None or self._neutral[0] is not module:
            trained = None if self.trained_users is None else torch.as_tensor(self.trained_users, device=self.device)
            with torch.inference_mode():
                p, g = module.neutral_user(trained)
            self._neutral = (module, p, g)
        return self._neutral[1], self._neutral[2]

    def _posts_global(self, enc: ContextEncoder, users: np.ndarray, times: np.ndarray | None,
                      rows: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Global inputs from the users' own posts in ``enc`` before each case's window (all of them
        without times): each store range is read and standardised by
        :meth:`ContextEncoder.window_rows`, exactly as a window is; a user with no such post keeps
        the stand-in row."""
        out = dict(rows)
        for m, store in enc.posts.items():
            if m not in rows:
                continue
            lo, hi = store.user_range(users)
            if times is not None:
                hi = store.position(users, np.asarray(times, dtype=np.int64) - enc.window)
            part = WindowRows.of(enc.window_rows({m: (lo, hi)}), self.device)[m]
            out[m] = part.dense(rows[m].contiguous())
        return out

    # -- persistence ------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        super().save(folder)
        enc = self.encoder
        tensors: dict[str, torch.Tensor] = {}
        if enc is not None:
            if enc.global_until is not None:
                tensors["global_until"] = torch.as_tensor(enc.global_until)
            if self.trained_users is not None:
                tensors["trained_users"] = torch.as_tensor(self.trained_users)
            if self.params["embed_posts"] or not self.source.get("workspace"):
                for m, store in enc.posts.items():
                    tensors[f"posts.{m}.keys"] = torch.as_tensor(np.asarray(store.keys))
                    tensors[f"posts.{m}.features"] = torch.as_tensor(np.asarray(store.features, dtype=np.float32))
        if tensors:
            with atomic_path(Path(folder) / "content.safetensors") as tmp:
                save_file(tensors, str(tmp))

    @classmethod
    def load(cls, folder: Path) -> AMAEBase:
        folder = Path(folder)
        model: AMAEBase = super().load(folder)  # type: ignore[assignment]
        state = read_json(folder / "model.json")["state"]
        model.source = relocate_source(state.get("source", {}), folder)
        model.stage1_history = state.get("stage1_history", [])
        path = folder / "content.safetensors"
        tensors = {k: v.numpy() for k, v in load_file(str(path)).items()} if path.exists() else {}
        model.trained_users = tensors.get("trained_users")  # absent in models saved before cold start
        posts: dict[str, ModalityPosts] = {}
        mods = list(state["dims"])
        if all(f"posts.{m}.keys" in tensors and f"posts.{m}.features" in tensors for m in mods):
            posts = {m: ModalityPosts(tensors[f"posts.{m}.keys"], tensors[f"posts.{m}.features"]) for m in mods}
        else:
            posts = reopen_posts(model.source)
        if posts:
            until = None if state.get("global_all") else tensors.get("global_until")
            if until is None and not state.get("global_all"):
                raise ValueError(f"{folder}: content.safetensors lacks the global cutoffs (global_until)")
            stds = {m: Standardizer.from_dict(s) for m, s in state["standardizers"].items()}
            model.encoder = ContextEncoder(posts, state["n_users"], until, int(state["window"]), stds)
        return model


@register
class MFAMAE(AMAEBase):
    name = "mf+amae"
    backbone_name = "mf"

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        return MFModule(state["n_users"], state["n_items"], self.params["dim"], self.params["init_std"],
                        item_dim=item_dim, repeat=self._repeat)


@register
class DMFAMAE(AMAEBase):
    name = "dmf+amae"
    backbone_name = "dmf"
    # 6: the tracks' content vectors in a table of their own and no contextual code dropout
    version = 6
    #: ``track_content="table"`` and ``code_dropout=0`` [choice]: on the planted worlds of seeds 0-2
    #: (3 seeds each) DMF+AMAE captured 81% / 83% / 84% of the available gain on new pairs, against
    #: 77% / 73% / 77% with the tower's content part and dropout 0.3 (README, "AMAE")
    default_params = {**AMAEBase.default_params, "hidden": 64, "hide_target": True, "score_hidden": True,
                      "track_content": "table", "code_dropout": 0.0}
    search_space = {**AMAEBase.search_space, "hidden": ("categorical", [32, 64, 128])}

    def _backbone_data(self, data: TrainData) -> None:
        self._user_csr = csr(data.users, data.items, data.n_users)
        self._item_csr = csr(data.items, data.users, data.n_items)
        self._state.update(user_nnz=int(len(self._user_csr[1])), item_nnz=int(len(self._item_csr[1])))

    def _rebuild_backbone_data(self, state: dict[str, Any]) -> None:
        self._state.update(user_nnz=state["user_nnz"], item_nnz=state["item_nnz"])
        self._user_csr = placeholder_csr(state["n_users"], state["user_nnz"])
        self._item_csr = placeholder_csr(state["n_items"], state["item_nnz"])

    def _backbone(self, state: dict[str, Any], item_dim: int) -> nn.Module:
        hidden, dim = int(self.params["hidden"]), int(self.params["dim"])
        return DMFModule(self._user_csr, self._item_csr, state["n_users"], state["n_items"], [hidden, dim],
                         float(self.params["init_std"]), cosine=False, hide_target=bool(self.params["hide_target"]),
                         item_hidden=[hidden, item_dim], score_hidden=bool(self.params["score_hidden"]),
                         repeat=self._repeat)
