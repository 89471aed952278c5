"""Multi-task SASRec: one sequential encoder learns the next item, its genres and its rating together.

The encoder and the next-item head are SASRec's (:mod:`.sasrec_net`), so the model scores, attends and
explains exactly as ``sasrec`` does; the label head (the next item's genres or categories, from
``label_field``) and the rating head (the rating the user gives the next item) share its hidden
states. The label head also serves the intent stage (``multitask-head``) from the same saved model.

Task losses combine with fixed weights, or with weights learned by uncertainty weighting (Kendall et
al. 2018); the label loss can be class-balanced or focal (:mod:`genre.components.imbalance`) and the
batches user-balanced. Without ratings in the interactions the rating head is off, with a notice.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch.nn import functional as F

from genre.components.env import Env
from genre.components.imbalance import class_balanced_weights, multilabel_loss
from genre.components.intent.head import item_labels
from genre.components.scorers.multitask_net import (
    REGRESSION,
    TASKS,
    MultiTaskNet,
    build_examples,
    combine_losses,
    rating_stats,
)
from genre.components.scorers.sasrec import SasRecConfig, SasRecScorer
from genre.core.errors import ConfigError, CorruptArtifactError
from genre.core.types import Intent, Interactions, ScoreList, UserState

NAME = "sasrec-multitask"


class MultiTaskConfig(SasRecConfig):
    label_field: str = Field(default="categories", min_length=1)
    """Item field the label head predicts for the next item: `categories`, `tags`, or an item attribute."""
    item_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    """Weight of the next-item loss (0 switches the task off: then the scores are untrained)."""
    genre_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    """Weight of the next item's label (genre/category) loss; 0 switches the label head off."""
    rating_weight: float = Field(default=1.0, ge=0.0, le=10.0)
    """Weight of the next item's rating loss; 0 switches the rating head off (it is off anyway without ratings)."""
    weighting: Literal["fixed", "uncertainty"] = "fixed"
    """`fixed`: the weights above; `uncertainty`: learned per-task log-variances (Kendall et al. 2018), with
    the weights above only switching tasks on (> 0) or off (0)."""
    genre_loss: Literal["bce", "class-balanced", "focal"] = "bce"
    """Label loss: sigmoid cross-entropy, class-balanced by effective number (Cui et al. 2019) or focal (Lin et al.)."""
    cb_beta: float = Field(default=0.999, ge=0.0, lt=1.0)
    """Class-balanced beta in [0, 1): 0 weighs labels alike, towards 1 approaches inverse label frequency."""
    focal_gamma: float = Field(default=2.0, ge=0.0, le=10.0)
    """Focal gamma: how much confidently right labels are down-weighted (0 is plain cross-entropy)."""
    user_balanced: bool = False
    """Weigh every user's training targets equally per epoch (each target 1 / the user's targets), not every event."""

    @model_validator(mode="after")
    def _some_task(self) -> MultiTaskConfig:
        if self.item_weight + self.genre_weight + self.rating_weight <= 0:
            raise ValueError(
                "item_weight, genre_weight and rating_weight are all 0: at least one task needs a weight in (0, 10]"
            )
        return self


class MultiTaskSasRecScorer(SasRecScorer):
    """Multi-task SASRec: scores the next item like SASRec, trained jointly on the next item's genres and rating.

    ``label_probabilities`` and ``predict_ratings`` read the other two heads; ``attention``,
    ``self_attention`` and ``explain`` are SASRec's, so the explorer explains its scores the same way.
    """

    Config = MultiTaskConfig
    config: MultiTaskConfig
    model: MultiTaskNet

    ARTIFACT_VERSION: ClassVar[int] = 1
    """Version of the model, its training and the saved weights; bump it when any changes (older state is a miss)."""

    def _new_model(self) -> MultiTaskNet:
        c = self.config
        return MultiTaskNet(
            self.n_items, c.hidden, c.max_len, c.layers, c.heads, c.dropout, len(self.labels), self.rating_on
        )

    def artifact_params(self) -> dict[str, Any]:
        """What the trained model depends on besides the data (evidence_items only changes explaining)."""
        return self.config.model_dump(exclude={"evidence_items"})

    def prepare(self, env: Env) -> None:
        # Not SasRecScorer.prepare: that keys its saved state as plain "sasrec", whose network has no heads.
        self.env = env
        cfg = self.config
        inter = env.interactions(NAME)
        self.catalog = env.catalog
        self.n_items = len(env.catalog)
        self.device = torch.device(env.device)
        labels = sorted({lab for item in env.catalog.items for lab in item_labels(item, cfg.label_field)})
        self.labels: list[str] = labels if cfg.genre_weight > 0 and len(labels) >= 2 else []
        self.label_field = cfg.label_field
        self.rating_scale = rating_stats(inter.ratings) if cfg.rating_weight > 0 else None
        self.rating_on = self.rating_scale is not None
        self.notices = self._task_notices(labels)
        for notice in self.notices:
            if notice not in env.notices:
                env.notices.append(notice)
        self.model = self._new_model().to(self.device)
        artifact = env.artifact(NAME, self.artifact_params(), self.ARTIFACT_VERSION)
        self.meta: dict[str, Any] | None = artifact.load(self._load)
        if self.meta is None:
            warm = env.warm_artifact(NAME, self.artifact_params(), self.ARTIFACT_VERSION)
            state = None
            if warm is not None and env.warm_start is not None:
                state = warm.load(
                    lambda files: self._read(files)[1],
                    what=f"Warm-start state of {NAME}",
                    fallback="trained from scratch",
                )
            if state is not None and env.warm_start is not None:
                self.meta = self._train(inter, env.progress, init=state, epochs=env.warm_start.epochs)
                self.meta["warm_start"] = {"from": str(warm.folder) if warm else "", "epochs": env.warm_start.epochs}
            else:
                self.meta = self._train(inter, env.progress)
            self._save(artifact, self.meta)
        self.model.eval()

    def _task_notices(self, labels: list[str]) -> list[str]:
        cfg, out = self.config, []
        if cfg.genre_weight > 0 and len(labels) < 2:
            out.append(
                f"{NAME}: the label head is off: the {self.catalog.name} items have {len(labels)} distinct "
                f"{cfg.label_field!r} value(s); name a field with two or more in label_field"
            )
        if cfg.rating_weight > 0 and not self.rating_on:
            out.append(f"{NAME}: the rating head is off: the {self.catalog.name} interactions carry no ratings")
        if cfg.item_weight == 0:
            out.append(f"{NAME}: item_weight is 0, so its next-item scores are untrained; use it for its other heads")
        return out

    # ---- training -------------------------------------------------------------------------------

    def _train(
        self,
        inter: Interactions,
        progress: bool,
        init: dict[str, torch.Tensor] | None = None,
        epochs: int | None = None,
    ) -> dict[str, Any]:
        cfg = self.config
        n_epochs = cfg.epochs if epochs is None else epochs
        torch.manual_seed(cfg.seed)
        self.model = self._new_model().to(self.device)
        if init is not None:
            self.model.load_state_dict(init)
        mean, std = self.rating_scale or (0.0, 1.0)
        ex = build_examples(inter, cfg.max_len, mean, std, cfg.user_balanced)
        if ex.tokens.shape[0] == 0:
            raise ConfigError(
                f"scorer {NAME!r} learns from item sequences, but no user in the {self.catalog.name} "
                "interactions has two or more events"
            )
        label_matrix = self._label_matrix()
        class_weights = self._class_weights(label_matrix, ex.items)
        dev = self.device
        x, y = torch.from_numpy(ex.tokens).to(dev), torch.from_numpy(ex.items).to(dev)
        r = torch.from_numpy(ex.ratings.astype(np.float32)).to(dev)
        w = torch.from_numpy(ex.weights.astype(np.float32)).to(dev)
        labels_t = torch.from_numpy(label_matrix).to(dev)
        cw = torch.from_numpy(class_weights.astype(np.float32)).to(dev)
        task_w = torch.tensor(self.task_weights(), dtype=torch.float32, device=dev)
        regression = torch.tensor(REGRESSION, device=dev)
        uncertain = cfg.weighting == "uncertainty"
        gamma = cfg.focal_gamma if cfg.genre_loss == "focal" else 0.0
        opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)
        gen = torch.Generator().manual_seed(cfg.seed)
        history: dict[str, list[float]] = {t: [] for t in TASKS}
        start = time.perf_counter()
        epochs_iter: Any = range(n_epochs)
        if progress:
            from tqdm.auto import tqdm

            epochs_iter = tqdm(epochs_iter, desc=f"training {NAME}", unit="epoch")
        self.model.train()
        for epoch in epochs_iter:
            self.env.checkpoint(f"training {NAME}", epoch / n_epochs)
            sums, counts = torch.zeros(len(TASKS)), torch.zeros(len(TASKS))
            for batch in torch.randperm(x.shape[0], generator=gen).split(cfg.batch_size):
                batch = batch.to(dev)
                hidden, _ = self.model(x[batch])
                mask = y[batch] >= 0
                h, items, weights = hidden[mask], y[batch][mask], w[batch][mask]
                losses, sizes = self._task_losses(h, items, weights, r[batch][mask], labels_t, cw, gamma)
                log_vars = self.model.log_vars if uncertain else None
                loss = combine_losses(losses, task_w, log_vars, regression)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums += losses.detach().cpu() * sizes
                counts += sizes
            for k, task in enumerate(TASKS):
                history[task].append(round(float(sums[k] / counts[k]), 5) if counts[k] > 0 else float("nan"))
            if progress:
                epochs_iter.set_postfix(loss=f"{history['item'][-1]:.3f}")
        learned = torch.exp(-self.model.log_vars.detach()).cpu().tolist() if uncertain else None
        return {
            "config": cfg.model_dump(),
            "n_items": self.n_items,
            "epochs": n_epochs,
            "loss": history["item"],
            "task_loss": history,
            "tasks": {t: bool(on) for t, on in zip(TASKS, self.task_weights() > 0, strict=True)},
            "learned_precision": dict(zip(TASKS, learned, strict=True)) if learned else None,
            "labels": self.labels,
            "rating_scale": list(self.rating_scale) if self.rating_scale else None,
            "train_seconds": round(time.perf_counter() - start, 3),
            "train_sequences": int(ex.tokens.shape[0]),
        }

    def task_weights(self) -> np.ndarray:
        """Each task's weight in TASKS order, 0 for a task that is off (no labels, no ratings)."""
        c = self.config
        return np.array(
            [c.item_weight, c.genre_weight if self.labels else 0.0, c.rating_weight if self.rating_on else 0.0]
        )

    def _task_losses(
        self,
        h: torch.Tensor,
        items: torch.Tensor,
        weights: torch.Tensor,
        ratings: torch.Tensor,
        labels: torch.Tensor,
        class_weights: torch.Tensor,
        gamma: float,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each task's weighted mean loss over the targets it has, and how many targets it had."""
        zero = h.sum() * 0.0  # keeps the graph whole when a task has no target in this batch
        losses, sizes = [zero, zero, zero], [0.0, 0.0, 0.0]
        on = self.task_weights() > 0
        if on[0]:
            ce = F.cross_entropy(h @ self.model.item_vectors().T, items, reduction="none")
            losses[0], sizes[0] = (weights * ce).sum() / weights.sum(), float(items.numel())
        if on[1]:
            target = labels[items]
            # Class-balanced weights replace user balance here: both would reweigh the same examples.
            ew = (target @ class_weights) / target.sum(dim=1).clamp(min=1.0) if class_weights.numel() else weights
            has = target.sum(dim=1) > 0
            if has.any():
                per = multilabel_loss(self.model.genre_logits(h[has]), target[has], gamma)
                losses[1], sizes[1] = (ew[has] * per).sum() / ew[has].sum(), float(has.sum())
        if on[2]:
            rated = torch.isfinite(ratings)
            if rated.any():
                pred = self.model.rating_of(h[rated], items[rated])
                err = (pred - ratings[rated]) ** 2
                losses[2], sizes[2] = (weights[rated] * err).sum() / weights[rated].sum(), float(rated.sum())
        return torch.stack(losses), torch.tensor(sizes)

    def _label_matrix(self) -> np.ndarray:
        """Multi-hot labels (n_items, n_labels) of every catalog item."""
        column = {label: j for j, label in enumerate(self.labels)}
        out = np.zeros((self.n_items, len(self.labels)), dtype=np.float32)
        for i, item in enumerate(self.catalog.items):
            for lab in item_labels(item, self.config.label_field):
                if lab in column:
                    out[i, column[lab]] = 1.0
        return out

    def _class_weights(self, label_matrix: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Class-balanced label weights from the training targets' label counts; empty unless that loss is chosen."""
        if self.config.genre_loss != "class-balanced" or not self.labels:
            return np.zeros(0)
        counts = label_matrix[targets[targets >= 0]].sum(axis=0)
        return class_balanced_weights(counts, self.config.cb_beta)

    def _read(self, files: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        meta, state = super()._read(files)
        if meta.get("labels") != self.labels:
            raise CorruptArtifactError(f"meta.json does not list this catalog's {len(self.labels)} labels")
        return meta, state

    # ---- inference ------------------------------------------------------------------------------

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        if state.seen_index.size == 0:
            return ScoreList(NAME, np.full(candidates.shape[0], np.nan), note="no history to continue")
        hidden, _ = self._encode(state.seen_index)
        return ScoreList(NAME, self._item_vectors(candidates) @ hidden[-1])

    @torch.inference_mode()
    def _last_hidden(self, seen: list[np.ndarray]) -> torch.Tensor:
        """The encoder's last hidden state after each history (zeros for an empty one)."""
        out = []
        step = max(self.config.batch_size, 256)
        for lo in range(0, len(seen), step):
            hidden, _ = self.model(self._tokens(seen[lo : lo + step]))
            out.append(hidden[:, -1])
        return torch.cat(out) if out else torch.zeros(0, self.config.hidden, device=self.device)

    @torch.inference_mode()
    def label_probabilities(self, seen: list[np.ndarray]) -> np.ndarray:
        """P(label among the next item's labels), shape (n, len(labels)); NaN rows for empty histories."""
        if not self.labels:
            raise ConfigError(f"{NAME} has no label head: {'; '.join(self.notices) or 'genre_weight is 0'}")
        out = np.full((len(seen), len(self.labels)), np.nan)
        has = np.array([np.asarray(s).size > 0 for s in seen], dtype=bool)
        if has.any():
            h = self._last_hidden([s for s, ok in zip(seen, has, strict=True) if ok])
            out[has] = torch.sigmoid(self.model.genre_logits(h)).double().cpu().numpy()
        return out

    def top_labels(self, seen: list[np.ndarray], k: int, joint: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
        """Each history's ``k`` labels most likely to include one of the next item's (n, k), and their gains.

        The chance that a set of labels includes one of the next item's is estimated two ways, mixed
        with weight ``joint`` on the first: from the next-item head (its softmax over unseen items,
        each item carrying its labels together) and from the label head taken as independent labels.
        Labels are chosen greedily; a label's gain is the chance it adds. Both estimates are coverage
        functions, so gains never increase, and labels that go together (Drama, Romance, War) do not
        crowd out a second likely kind of item. ``joint = 0`` (or ``item_weight = 0``, an untrained
        next-item head) gives the label head's own order and probabilities. NaN gains without history.
        """
        probs = self.label_probabilities(seen)
        k = min(k, len(self.labels))
        order = np.argsort(-np.nan_to_num(probs, nan=0.0), axis=1, kind="stable")[:, :k]
        gains = np.take_along_axis(probs, order, axis=1)
        if self.config.item_weight == 0 or joint == 0:
            return order, gains
        if "_labels_of_items" not in self.__dict__:
            self._labels_of_items = self._label_matrix() > 0
        has = self._labels_of_items
        scores = self.score_sequences(seen)
        for row, s in enumerate(seen):
            if np.isnan(scores[row]).any():
                continue
            logits = scores[row].copy()
            logits[np.asarray(s, dtype=np.int64)] = -np.inf
            p = np.exp(logits - logits.max())
            p /= p.sum()
            uncovered, missed = np.ones(has.shape[0], dtype=bool), 1.0
            for step in range(k):
                gain = joint * ((p * uncovered) @ has) + (1.0 - joint) * probs[row] * missed
                gain[order[row, :step]] = -np.inf
                best = int(np.lexsort((-probs[row], -gain))[0])
                order[row, step], gains[row, step] = best, gain[best]
                uncovered &= ~has[:, best]
                missed *= 1.0 - probs[row, best]
        return order, gains

    @torch.inference_mode()
    def predict_ratings(self, seen: list[np.ndarray], items: list[np.ndarray]) -> list[np.ndarray]:
        """The rating each user would give each of their ``items`` after their history, in the data's scale."""
        if not self.rating_on or self.rating_scale is None:
            raise ConfigError(f"{NAME} has no rating head: {'; '.join(self.notices) or 'rating_weight is 0'}")
        mean, std = self.rating_scale
        h = self._last_hidden(seen)
        out = []
        for row, its in enumerate(items):
            index = torch.from_numpy(np.asarray(its, dtype=np.int64)).to(self.device)
            z = self.model.rating_of(h[row].expand(index.numel(), -1), index)
            out.append(z.double().cpu().numpy() * std + mean)
        return out
