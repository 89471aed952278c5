"""A small trained intent head: the user's recent history embeddings -> the next item's category.

It imports torch when it is prepared, not at import: validating a config imports the intent package,
and importing a config must not load torch.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from genre.components.context import unit
from genre.components.env import Env
from genre.core.artifacts import Artifact, ArtifactFiles
from genre.core.component import ComponentConfig, IntentModel
from genre.core.errors import ConfigError, CorruptArtifactError
from genre.core.types import Catalog, Intent, IntentLabel, Interactions, Item, UserState

if TYPE_CHECKING:
    from torch import nn

__all__ = [
    "TrainedHeadConfig",
    "TrainedIntentHead",
    "history_means",
    "item_labels",
    "next_item_label_counts",
    "user_sequences",
]


class TrainedHeadConfig(ComponentConfig):
    label_field: str = Field(default="categories", min_length=1)
    """Item field whose values are the classes: `categories`, `tags`, or an item attribute (text or list of text)."""
    hidden: int = Field(default=128, ge=4, le=4096)
    """Width of the head's one hidden layer."""
    epochs: int = Field(default=8, ge=1, le=1000)
    """Passes over the training examples."""
    batch_size: int = Field(default=256, ge=1, le=65536)
    """Training examples per optimizer step."""
    lr: float = Field(default=2e-3, gt=0.0, le=1.0)
    """AdamW learning rate."""
    weight_decay: float = Field(default=1e-2, ge=0.0, le=10.0)
    """AdamW weight decay."""
    dropout: float = Field(default=0.2, ge=0.0, le=0.9)
    """Dropout on the hidden layer while training."""
    max_history: int = Field(default=50, ge=1, le=1000)
    """Only this many of the most recent history items enter the history mean."""
    half_life_items: float = Field(default=3.0, gt=0.0)
    """In the history mean, an item this many positions before the newest counts half."""
    examples_per_user: int = Field(default=50, ge=1, le=100_000)
    """Cap on training examples (history prefix -> next item) per user: a seeded sample of the user's prefixes."""
    seed: int = Field(default=42, ge=0)
    """Seed for the example sample, weight initialization, dropout and batch order: same seed and data, same head."""
    top_n: int = Field(default=5, ge=1)
    """How many labels to report."""
    loss: Literal["ce", "class-balanced", "focal"] = "ce"
    """Training loss: cross-entropy, class-balanced by effective number (Cui et al. 2019) or focal (Lin et al. 2017)."""
    cb_beta: float = Field(default=0.999, ge=0.0, lt=1.0)
    """Class-balanced beta in [0, 1): 0 weighs labels alike, towards 1 approaches inverse label frequency."""
    focal_gamma: float = Field(default=2.0, ge=0.0, le=10.0)
    """Focal gamma: how much confidently right examples are down-weighted (0 is plain cross-entropy)."""

    def artifact_params(self) -> dict[str, Any]:
        """The options the trained head depends on (the loss knobs only when they are used, so plain
        cross-entropy heads keep the key they had before the loss option existed)."""
        unused = {"top_n", "loss", "cb_beta", "focal_gamma"}
        if self.loss == "class-balanced":
            unused -= {"loss", "cb_beta"}
        elif self.loss == "focal":
            unused -= {"loss", "focal_gamma"}
        return self.model_dump(exclude=unused)


def _head(n_in: int, n_out: int, cfg: TrainedHeadConfig) -> nn.Module:
    """The head network: one hidden layer (parameter names ``net.*``, as saved heads have them)."""
    from torch import nn

    layers = nn.Sequential(
        nn.Linear(n_in, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, n_out)
    )
    return nn.Sequential(OrderedDict(net=layers))


_HEAD = "trained-head"
_HEAD_WEIGHTS = "model.safetensors"
_HEAD_CARD = "card.json"


def item_labels(item: Item, field: str) -> tuple[str, ...]:
    """An item's class labels under ``field``: categories, tags, or an attribute's text (or list of text)."""
    if field == "categories":
        return item.categories
    if field == "tags":
        return item.tags
    value = item.attributes.get(field)
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if isinstance(v, str) and v.strip())
    return ()


def user_sequences(inter: Interactions) -> list[np.ndarray]:
    """Each user's item indices, oldest first (ties keep input order), users in sorted id order."""
    if len(inter) == 0:
        return []
    _, codes = np.unique(inter.user_ids, return_inverse=True)
    order = np.lexsort((np.arange(len(inter)), inter.timestamps, codes))
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    return np.split(inter.item_index[order].astype(np.int64), cuts)


def next_item_label_counts(catalog: Catalog, inter: Interactions, field: str = "categories") -> dict[str, int]:
    """How often each label is among a next item's labels: every event but each user's first.

    The majority-class baseline of the trained head predicts the most frequent of these.
    """
    counts: dict[str, int] = {}
    for seq in user_sequences(inter):
        for i in seq[1:].tolist():
            for label in item_labels(catalog.items[i], field):
                counts[label] = counts.get(label, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def history_means(vectors: np.ndarray, prefixes: list[np.ndarray], half_life: float) -> np.ndarray:
    """Unit recency-weighted means of item vectors, one row per prefix (oldest first); zero rows when empty."""
    out = np.zeros((len(prefixes), vectors.shape[1]))
    for row, prefix in enumerate(prefixes):
        if prefix.size:
            w = 0.5 ** (np.arange(prefix.size - 1, -1, -1) / half_life)
            out[row] = unit((w / w.sum()) @ vectors[prefix])
    return out


class TrainedIntentHead(IntentModel):
    """A small trained head: the user's recent history embeddings -> the next item's category.

    Features are the recency-weighted mean of the user's history item embeddings concatenated
    with the context stage's user vector (which blends in the profile text when there is one).
    The output is a softmax over the catalog's labels (``label_field``); an item with several
    labels is a target spread evenly over them. It trains on the catalog's interactions once per
    catalog, interactions, embedder and config, and keeps safetensors weights plus a JSON card
    under the artifact cache. Its accuracy is measured by ``python -m genre evaluate``.
    """

    Config = TrainedHeadConfig
    config: TrainedHeadConfig
    ARTIFACT_VERSION: ClassVar[int] = 1
    """Version of the head, its features, its training and the saved weights; bump it when any changes."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        catalog = env.catalog
        inter = catalog.interactions
        if inter is None or len(inter) == 0:
            raise ConfigError(
                f"intent component {_HEAD!r} learns the next item's {self.config.label_field} from user "
                f"interactions, but the {catalog.name} catalog has none; use intent component 'zero-shot' "
                "(labels from the config) for this catalog"
            )
        self.labels = sorted({lab for item in catalog.items for lab in item_labels(item, self.config.label_field)})
        if len(self.labels) < 2:
            raise ConfigError(
                f"intent component {_HEAD!r} predicts the items' {self.config.label_field!r}, but the "
                f"{catalog.name} catalog has {len(self.labels)} distinct value(s) there; name an item field with "
                "at least two labels in label_field (categories, tags or an attribute), or use 'zero-shot'"
            )
        self.vectors = env.item_vectors.astype(np.float64)
        self.label_vectors = env.embedder.encode(self.labels).astype(np.float64)
        import torch

        self.device = torch.device(env.device)
        self.model = _head(2 * self.vectors.shape[1], len(self.labels), self.config).to(self.device)
        params = {**self.config.artifact_params(), "embedder": env.embedder.name}
        artifact = env.artifact(_HEAD, params, self.ARTIFACT_VERSION)
        card = artifact.load(self._load)
        if card is None:
            card = self._train(inter, env.progress)
            card["data"] = {
                "catalog": catalog.name,
                "catalog_fingerprint": catalog.fingerprint,
                "interactions_fingerprint": inter.fingerprint,
                "interactions": len(inter),
            }
            card["params"] = params
            self._save(artifact, card)
        self.card: dict[str, Any] = card
        self.model.eval()

    @property
    def label_field(self) -> str:
        """The item field whose values are the classes."""
        return self.config.label_field

    # ---- training and the saved state ---------------------------------------------------------

    def _examples(self, inter: Interactions) -> tuple[np.ndarray, np.ndarray]:
        """(features, soft targets) of sampled history prefixes and the labels of the item that followed."""
        cfg = self.config
        gen = np.random.default_rng(cfg.seed)
        column = {label: j for j, label in enumerate(self.labels)}
        targets_of = [[column[lab] for lab in item_labels(item, cfg.label_field)] for item in self.env.catalog.items]
        prefixes: list[np.ndarray] = []
        targets: list[list[int]] = []
        for seq in user_sequences(inter):
            ends = np.array([t for t in range(1, seq.size) if targets_of[int(seq[t])]], dtype=np.int64)
            if ends.size > cfg.examples_per_user:
                ends = np.sort(gen.choice(ends, size=cfg.examples_per_user, replace=False))
            for t in ends.tolist():
                prefixes.append(seq[max(0, t - cfg.max_history) : t])
                targets.append(targets_of[int(seq[t])])
        if not prefixes:
            raise ConfigError(
                f"intent component {_HEAD!r} needs users with two or more events whose later items have "
                f"{cfg.label_field!r} labels; the {self.env.catalog.name} interactions have none"
            )
        h = history_means(self.vectors, prefixes, cfg.half_life_items)
        y = np.zeros((len(targets), len(self.labels)), dtype=np.float32)
        for row, cols in enumerate(targets):
            y[row, cols] = 1.0 / len(cols)
        # Training users have no profile, so their user vector is their history vector.
        return np.hstack([h, h]).astype(np.float32), y

    def _train(self, inter: Interactions, progress: bool) -> dict[str, Any]:
        import torch

        from genre.components.imbalance import class_balanced_weights, example_weights, softmax_loss

        cfg = self.config
        start = time.perf_counter()
        x_np, y_np = self._examples(inter)
        torch.manual_seed(cfg.seed)
        self.model = _head(x_np.shape[1], len(self.labels), cfg).to(self.device)
        x, y = torch.from_numpy(x_np).to(self.device), torch.from_numpy(y_np).to(self.device)
        # Per-example weights: 1, or the class-balanced mean weight of the example's labels.
        ew = np.ones(x_np.shape[0])
        if cfg.loss == "class-balanced":
            ew = example_weights(y_np, class_balanced_weights((y_np > 0).sum(axis=0), cfg.cb_beta))
        w = torch.from_numpy(ew.astype(np.float32)).to(self.device)
        gamma = cfg.focal_gamma if cfg.loss == "focal" else 0.0
        opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        gen = torch.Generator().manual_seed(cfg.seed)
        losses: list[float] = []
        epochs: Any = range(cfg.epochs)
        if progress:
            from tqdm.auto import tqdm

            epochs = tqdm(epochs, desc="training intent head", unit="epoch")
        self.model.train()
        for epoch in epochs:
            self.env.checkpoint("training the intent head", epoch / cfg.epochs)
            total = 0.0
            for batch in torch.randperm(x.shape[0], generator=gen).split(cfg.batch_size):
                batch = batch.to(self.device)
                per = softmax_loss(self.model(x[batch]), y[batch], gamma)
                loss = (w[batch] * per).sum() / w[batch].sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * batch.numel()
            losses.append(round(total / x.shape[0], 5))
            if progress:
                epochs.set_postfix(loss=f"{losses[-1]:.3f}")
        return {
            "component": _HEAD,
            "labels": self.labels,
            "n_features": int(x_np.shape[1]),
            "epochs": cfg.epochs,
            "train_loss": losses,
            "train_examples": int(x_np.shape[0]),
            "train_seconds": round(time.perf_counter() - start, 3),
            "device": str(self.device),
        }

    def _load(self, files: ArtifactFiles) -> dict[str, Any]:
        """The saved card, after loading the saved weights into the model."""
        card = files.json(_HEAD_CARD)
        if not isinstance(card, dict) or card.get("labels") != self.labels:
            raise CorruptArtifactError(f"{_HEAD_CARD} does not list this catalog's {len(self.labels)} labels")
        self.model.load_state_dict(files.tensors(_HEAD_WEIGHTS, device=str(self.device)))
        return card

    def _save(self, artifact: Artifact, card: dict[str, Any]) -> None:
        artifact.save({_HEAD_WEIGHTS: dict(self.model.state_dict()), _HEAD_CARD: card})

    # ---- inference ------------------------------------------------------------------------------

    def features(self, states: list[UserState]) -> tuple[np.ndarray, np.ndarray]:
        """Feature rows for the users, and a mask of those with any signal (history or user vector)."""
        cfg = self.config
        h = history_means(self.vectors, [s.seen_index[-cfg.max_history :] for s in states], cfg.half_life_items)
        u = np.zeros_like(h)
        has = np.zeros(len(states), dtype=bool)
        for row, state in enumerate(states):
            has_history = state.seen_index.size > 0
            u[row] = state.vector if state.vector is not None else h[row]
            if not has_history and state.vector is not None:
                h[row] = state.vector  # a profile alone: it stands in for the history
            has[row] = has_history or state.vector is not None
        return np.hstack([h, u]), has

    def predict_proba(self, states: list[UserState]) -> np.ndarray:
        """Label probabilities, shape (n_users, n_labels), columns in ``labels`` order; NaN rows without signal."""
        import torch

        x, has = self.features(states)
        out = np.full((len(states), len(self.labels)), np.nan)
        if has.any():
            with torch.inference_mode():
                logits = self.model(torch.from_numpy(x[has].astype(np.float32)).to(self.device))
                out[has] = torch.softmax(logits, dim=1).double().cpu().numpy()
        return out

    def top_labels(self, states: list[UserState], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each user's ``k`` most probable labels (n, k), best first, and their probabilities (NaN without signal)."""
        probs = self.predict_proba(states)
        order = np.argsort(-np.nan_to_num(probs, nan=0.0), axis=1, kind="stable")[:, :k]
        return order, np.take_along_axis(probs, order, axis=1)

    def __call__(self, state: UserState) -> Intent:
        probs = self.predict_proba([state])[0]
        if np.isnan(probs).any():
            return Intent(source=_HEAD)
        order = np.argsort(-probs, kind="stable")[: self.config.top_n]
        labels = [IntentLabel(label=self.labels[i], probability=round(float(probs[i]), 4)) for i in order]
        return Intent(labels=labels, source=_HEAD, vector=unit(probs @ self.label_vectors).tolist())
