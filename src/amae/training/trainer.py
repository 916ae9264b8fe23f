"""The pointwise training loop shared by MF, DMF and the AMAE models.

Adam on BCE with sampled negatives, early stopping on validation NDCG@10 (sampled protocol; on the
new-pair cases by default, see :func:`stopping_cases`), the best weights restored at the end,
seeded, with a rich progress bar showing loss and metric.

Early stopping cannot cut a model short: patience only counts after ``min_epochs`` (a validation
curve that peaks at epoch 1, dips and then climbs above that peak is followed to the climb), and
every fit says how it ended (:class:`FitOutcome`): the best epoch kept, the epochs run and the stop
reason, ``cap`` (the epoch cap was reached, so the model may still have been improving),
``converged`` (patience ran out on a plateau within ``PLATEAU_TOL`` of the best) or ``patience``
(patience ran out after the metric fell away from its best). Reports flag ``cap`` and a best
epoch among the first ``EARLY_EPOCHS``.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from amae.models.stages import STOP_VIEWS, MinibatchStage, StepFn, TrainConfig
from amae.protocol.metrics import sampled_ranks, summarise
from amae.protocol.split import EvalCases
from amae.training.optim import LazyAdam
from amae.training.samplers import pointwise_epoch

#: a best epoch at or below this is reported as suspicious (near-initial weights)
EARLY_EPOCHS = 3
#: relative distance to the best validation metric that still counts as a plateau
PLATEAU_TOL = 0.01
STOP_REASONS = ("converged", "patience", "cap")
#: fewer new-pair validation cases than this and early stopping reads all of them: a handful of
#: cases would stop training on noise (a given leave-one-out split has no re-listens anyway)
MIN_STOP_CASES = 50


@dataclass
class FitOutcome:
    """How one training run ended: what the reports show per cell."""

    best_epoch: int
    epochs_run: int
    stop_reason: str
    epoch_cap: int
    best_valid_ndcg: float | None = None
    #: the validation cases it read: "new_pairs" or "all" (see :func:`stopping_cases`)
    stopped_on: str = "all"

    @property
    def warnings(self) -> list[str]:
        out = []
        if self.stop_reason == "cap":
            out.append(f"stopped at its epoch cap ({self.epoch_cap}); it may still have been improving")
        if self.best_valid_ndcg is not None and self.best_epoch <= EARLY_EPOCHS:
            out.append(f"kept epoch {self.best_epoch} (one of the first {EARLY_EPOCHS})")
        return out

    def to_dict(self) -> dict:
        return {"best_epoch": self.best_epoch, "epochs_run": self.epochs_run, "stop_reason": self.stop_reason,
                "epoch_cap": self.epoch_cap, "best_valid_NDCG@10": self.best_valid_ndcg, "stopped_on": self.stopped_on,
                "warnings": self.warnings}


def stopping_cases(valid: EvalCases | None, stop_on: str) -> tuple[EvalCases | None, str]:
    """The validation cases early stopping reads, and which view they are.

    ``new_pairs`` keeps the cases whose (user, track) pair the fitting data lacks, the experiment's
    primary view, when there are at least ``MIN_STOP_CASES`` of them; otherwise every case.
    """
    if stop_on not in STOP_VIEWS:
        raise ValueError(f"stop_on must be one of {', '.join(STOP_VIEWS)}, got {stop_on!r}")
    if valid is None or stop_on == "all" or int(valid.new_pair.sum()) < MIN_STOP_CASES:
        return valid, "all"
    return valid.subset(valid.new_pair), "new_pairs"


def outcome_of(history: list[dict], cfg: TrainConfig, stopped_early: bool, stopped_on: str = "all") -> FitOutcome:
    """The :class:`FitOutcome` of a finished loop (also used to re-read a saved history)."""
    metric = [h["valid_NDCG@10"] for h in history if "valid_NDCG@10" in h]
    if not metric:
        return FitOutcome(len(history), len(history), "cap", cfg.epochs)
    best_i = int(np.argmax(metric))  # first occurrence: the epoch whose weights were kept
    best = float(metric[best_i])
    if not stopped_early:
        reason = "cap"
    else:
        tail = metric[-max(int(cfg.patience), 1):]
        reason = "converged" if min(tail) >= best * (1 - PLATEAU_TOL) else "patience"
    return FitOutcome(best_i + 1, len(history), reason, cfg.epochs, best, stopped_on)


def resolve_device(device: str) -> torch.device:
    """``auto`` picks CUDA where it exists; asking for CUDA without one is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for but no CUDA device is available (use auto or cpu)")
    return torch.device(device)


def configure_threads() -> int:
    """Intra-op threads for training: 1 unless ``AMAE_TORCH_THREADS`` says otherwise.

    The models are small, so each step is many tiny kernels; with several threads, OpenMP barriers
    dominate, and on a busy machine a step measured 40x slower with 2 threads than with 1.
    """
    n = int(os.environ.get("AMAE_TORCH_THREADS", "1"))
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    """Seed torch and numpy, and set the training thread count (every fit starts here)."""
    configure_threads()
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


__all__ = ["FitOutcome", "MinibatchStage", "StepFn", "TrainConfig", "descend", "fit_minibatch", "fit_pointwise",
           "make_optimisers", "resolve_device", "seed_everything"]

ScoreFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def make_optimisers(module: torch.nn.Module, lr: float, params: list[torch.nn.Parameter] | None = None,
                    decayed: list[torch.nn.Parameter] | None = None,
                    weight_decay: float = 0.0) -> list[torch.optim.Optimizer]:
    """Adam for dense parameters, lazy (SparseAdam's rule) Adam for sparse embedding tables.

    Sparse tables make a step cost proportional to the rows a batch touches rather than to the
    number of users and items, which is what keeps paper-scale catalogues trainable on a CPU.
    Dense Adam is the fused kernel: the unfused one made five passes over the weights per step and
    took 45% of a DMF step on lastfm (41 ms -> 28 ms per batch with fusion). The dense parameters
    in ``decayed`` get ``weight_decay`` (see ``PointwiseStage.decayed``), the others none.
    """
    allowed = None if params is None else {id(p) for p in params}
    sparse_ids = {id(m.weight) for m in module.modules()
                  if isinstance(m, torch.nn.Embedding | torch.nn.EmbeddingBag) and m.sparse}
    dense, sparse = [], []
    for p in module.parameters():
        if not p.requires_grad or (allowed is not None and id(p) not in allowed):
            continue
        (sparse if id(p) in sparse_ids else dense).append(p)
    out: list[torch.optim.Optimizer] = []
    decay_ids = {id(p) for p in decayed or []}
    if dense:
        groups = [{"params": [p for p in dense if id(p) not in decay_ids], "weight_decay": 0.0},
                  {"params": [p for p in dense if id(p) in decay_ids], "weight_decay": float(weight_decay)}]
        out.append(torch.optim.Adam([g for g in groups if g["params"]], lr=lr, fused=True))
    if sparse:
        out.append(LazyAdam(sparse, lr=lr))  # SparseAdam's rule in fewer kernels (amae.training.optim)
    return out


def descend(optimisers: list[torch.optim.Optimizer], loss: torch.Tensor) -> float:
    """One gradient step of every optimiser on ``loss``; returns the loss value."""
    for opt in optimisers:
        opt.zero_grad(set_to_none=True)
    loss.backward()
    for opt in optimisers:
        opt.step()
    return float(loss.detach())


def run_epoch(step: StepFn, optimisers: list[torch.optim.Optimizer], rows: list[torch.Tensor],
              batch_size: int) -> float:
    """One pass of ``step`` over (record, user, item, label) ``rows`` in order; the mean batch loss."""
    total, batches = 0.0, 0
    for s in range(0, len(rows[0]), batch_size):
        record, u, i, y = (t[s : s + batch_size] for t in rows)
        total += descend(optimisers, step(record, u, i, y))
        batches += 1
    return total / max(batches, 1)


def fit_pointwise(module: torch.nn.Module, step: StepFn, score: ScoreFn, users: np.ndarray,
                  items: np.ndarray, n_items: int, valid: EvalCases | None, cfg: TrainConfig,
                  seed: int, device: torch.device, label: str = "train",
                  params: list[torch.nn.Parameter] | None = None,
                  decayed: list[torch.nn.Parameter] | None = None) -> tuple[list[dict], FitOutcome]:
    """Train ``module`` in place; returns the per-epoch history and how the run ended.

    Restores the best epoch's weights. Patience counts only from ``cfg.min_epochs`` on. ``decayed``
    parameters get Adam's weight decay ``2 * cfg.l2 / cfg.batch_size`` (``PointwiseStage.decayed``).
    """
    configure_threads()
    rng = np.random.default_rng(seed)
    keys = np.unique(users.astype(np.int64) * n_items + items.astype(np.int64))
    optimisers = make_optimisers(module, cfg.lr, params, decayed, 2.0 * float(cfg.l2) / int(cfg.batch_size))
    history: list[dict] = []
    best, best_state, best_epoch = -np.inf, None, 0
    min_epochs = min(int(cfg.min_epochs), int(cfg.epochs))
    stopped_early = False
    valid, stopped_on = stopping_cases(valid, cfg.stop_on)
    has_valid = valid is not None and len(valid) > 0
    progress = Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), TextColumn("{task.description}"),
                        TimeElapsedColumn(), disable=not cfg.progress, transient=True)
    with progress:
        task = progress.add_task("", total=cfg.epochs)
        for epoch in range(cfg.epochs):
            start = time.perf_counter()
            batch = pointwise_epoch(users, items, n_items, keys, cfg.n_negatives, rng, grouped=cfg.group_records)
            module.train()
            loss = run_epoch(step, optimisers, [torch.as_tensor(a, device=device) for a in batch], cfg.batch_size)
            seconds = time.perf_counter() - start
            entry = {"epoch": epoch + 1, "loss": loss, "seconds": seconds,
                     "samples_per_s": len(batch[0]) / max(seconds, 1e-9)}
            if has_valid:
                module.eval()
                entry["valid_NDCG@10"] = summarise(sampled_ranks(score, valid))["NDCG@10"]
                metric = entry["valid_NDCG@10"]
                if metric > best:
                    best, best_epoch = metric, epoch + 1
                    best_state = copy.deepcopy(module.state_dict())
            history.append(entry)
            desc = f"epoch {epoch + 1} loss {entry['loss']:.4f}"
            if "valid_NDCG@10" in entry:
                desc += f" valid NDCG@10 {entry['valid_NDCG@10']:.4f}"
            progress.update(task, advance=1, description=desc)
            # Patience counts from the later of the best epoch and min_epochs: a curve that peaks at
            # epoch 1 and climbs above it at epoch 12 is not stopped at epoch 5 (or 10).
            if has_valid and epoch + 1 - max(best_epoch, min_epochs) >= cfg.patience:
                stopped_early = epoch + 1 < cfg.epochs
                break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history, outcome_of(history, cfg, stopped_early, stopped_on)


def fit_minibatch(stage: MinibatchStage, device: torch.device) -> list[dict]:
    """Run a :class:`MinibatchStage`: seeded random batches of rows, Adam on the stage's parameters.

    Returns the per-epoch history (mean batch loss, seconds). The batch order is one NumPy stream
    seeded by ``stage.seed``, so the same seed gives the same numbers.
    """
    history: list[dict] = []
    if stage.epochs <= 0 or stage.n_rows <= 0 or not stage.params:
        return history
    configure_threads()
    rng = np.random.default_rng(stage.seed)
    opt = torch.optim.Adam(stage.params, lr=stage.lr, weight_decay=stage.weight_decay,
                           fused=device.type in ("cpu", "cuda"))
    stage.module.train()
    for epoch in range(int(stage.epochs)):
        start, total, batches = time.perf_counter(), 0.0, 0
        order = rng.permutation(stage.n_rows)
        for s in range(0, stage.n_rows, stage.batch_size):
            total += descend([opt], stage.loss(order[s : s + stage.batch_size]))
            batches += 1
        history.append({"stage": stage.name, "epoch": epoch + 1, "loss": total / max(batches, 1),
                        "seconds": time.perf_counter() - start})
    stage.module.eval()
    return history
