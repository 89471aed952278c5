"""BPR matrix factorization in torch (Rendle et al. 2009), on the configured device.

Feedback-aware when a model update asks for it (see :mod:`genre.training.feedback_update`): explicit negatives
in ``env.negatives`` are never sampled as positives and are preferred as that user's negatives, and
``env.warm_start`` continues from earlier factors for a few epochs instead of training from scratch.

Imbalance options (``negative_sampling``, ``batching``; the triples come from
:mod:`genre.components.scorers.sampling`, which documents the strata and the draws). The defaults train
draw for draw as before these options existed, under the same artifact key. :class:`PdaScorer
<genre.components.scorers.pda.PdaScorer>` extends this class through ``_pair_diff_fn`` (the training score)
and ``_ranking_scores`` (what is ranked).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from pydantic import Field, model_validator
from scipy import sparse

from genre.components.env import Env
from genre.components.scorers.sampling import Batching, NegativeSampling, TripleSampler
from genre.core.artifacts import ArtifactFiles
from genre.core.component import ComponentConfig, Scorer
from genre.core.errors import ConfigError, CorruptArtifactError
from genre.core.types import Evidence, Intent, ScoreList, UserState


class BprConfig(ComponentConfig):
    dims: int = Field(default=64, ge=1, le=1024)
    """Latent factors per user and item."""
    epochs: int = Field(default=40, ge=1, le=1000)
    """Passes over the training interactions."""
    lr: float = Field(default=0.01, gt=0, le=1)
    """Adam learning rate."""
    l2: float = Field(default=1e-4, ge=0)
    """Weight decay on the factors touched by each batch."""
    negatives: int = Field(default=4, ge=1, le=100)
    """Sampled negative items per positive interaction."""
    negative_sampling: NegativeSampling = "uniform"
    """`uniform`: any item. `popularity`: in proportion to count^0.75, so popular items are pushed down harder.
    `popularity-stratified`: pick one of `strata` equal-interaction popularity strata uniformly, then an item
    uniformly within it (every popularity level drawn equally often; see genre/components/scorers/sampling.py)."""
    strata: int = Field(default=3, ge=2, le=20)
    """Popularity strata for `popularity-stratified` negative sampling (each holds an equal share of interactions)."""
    batching: Batching = "interactions"
    """`interactions`: each training interaction once per epoch. `user-balanced`: every user contributes the same
    number of triples per epoch (the mean history length, resampled), so heavy users do not dominate."""
    batch_size: int = Field(default=4096, ge=16)
    """Triples per optimizer step."""
    fold_in_steps: int = Field(default=60, ge=1, le=1000)
    """Gradient steps to fit a vector for a user who was not in the training data."""
    seed: int = 42
    """Seed for initialization and sampling."""
    evidence_items: int = Field(default=3, ge=1, le=20)
    """How many history items to report as evidence."""

    @model_validator(mode="before")
    @classmethod
    def _balance_users_alias(cls, data: Any) -> Any:
        # `balance_users = true` was this option's earlier name; configs written with it keep working.
        if isinstance(data, dict) and "balance_users" in data:
            data = dict(data)
            old = data.pop("balance_users")
            if not isinstance(old, bool):
                raise ValueError(f"balance_users must be true or false (now batching = 'user-balanced'); got {old!r}")
            if old:
                data.setdefault("batching", "user-balanced")
        return data

    def artifact_params(self) -> dict[str, Any]:
        """What trained state is keyed by: the options, with those added since the first version of the
        factors left out at their defaults (and the old ``balance_users = false`` in), so state trained
        then is still found; the training with those defaults is the same draw for draw."""
        params = self.model_dump()
        if params["batching"] == "interactions" and params["negative_sampling"] != "popularity-stratified":
            del params["batching"], params["strata"]
            params["balance_users"] = False
        return params


class BprScorer(Scorer):
    """BPR-MF: user and item factors trained so seen items outrank sampled unseen ones."""

    Config = BprConfig
    config: BprConfig

    ARTIFACT_VERSION: ClassVar[int] = 1
    """Version of the training and the saved factors; bump it when either changes (older state is then a miss)."""
    NAME: ClassVar[str] = "bpr"
    """Name of the scores, the artifact and the progress messages."""
    ITEM_BIAS: ClassVar[bool] = True
    """Whether an item bias is learned (a model that must not absorb popularity into it turns this off)."""

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self.catalog = env.catalog
        matrix, self.user_rows = env.user_item_matrix(self.NAME)
        artifact = env.artifact(self.NAME, self.config.artifact_params(), self.ARTIFACT_VERSION)
        saved = artifact.load(lambda files: self._read_factors(files, matrix.shape[0]))
        if saved is not None:
            self.user_factors, self.item_factors, self.item_bias = saved
            return
        started = time.perf_counter()
        warm = self._warm_init(env, matrix.shape[0])
        negatives = self._negatives(env, matrix.shape)
        epochs = env.warm_start.epochs if warm is not None and env.warm_start is not None else None
        losses = self._train(matrix, init=warm[:3] if warm else None, epochs=epochs, negatives=negatives)
        meta: dict[str, object] = {
            "config": self.config.model_dump(),
            "seconds": round(time.perf_counter() - started, 2),
            "loss": losses,
        }
        if warm is not None:
            meta["warm_start"] = {"from": str(warm[3]), "epochs": len(losses)}
        if negatives is not None:
            meta["explicit_negatives"] = int(negatives.nnz)
        factors = {"users": self.user_factors, "items": self.item_factors, "item_bias": self.item_bias}
        artifact.save({"factors.safetensors": factors, "meta.json": meta})

    def _read_factors(self, files: ArtifactFiles, n_users: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user factors, item factors, item bias) saved for ``n_users`` users of this catalog and config."""
        tensors = files.arrays("factors.safetensors")
        users, items, bias = tensors["users"], tensors["items"], tensors["item_bias"]
        dims, n_items = self.config.dims, len(self.catalog)
        if users.shape != (n_users, dims) or items.shape != (n_items, dims) or bias.shape != (n_items,):
            raise CorruptArtifactError(
                f"factors of shapes {users.shape}, {items.shape}, {bias.shape} do not fit "
                f"{n_users} users x {n_items} items x {dims} dims"
            )
        return users, items, bias

    def _warm_init(self, env: Env, n_users: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, Path] | None:
        """(user factors, item factors, item bias, source folder) from ``env.warm_start``'s saved state.

        User rows are matched by user id; users new since then get a fresh seeded initialization.
        None when there is no warm start or no usable state there.
        """
        artifact = env.warm_artifact(self.NAME, self.config.artifact_params(), self.ARTIFACT_VERSION)
        if artifact is None or env.warm_start is None:
            return None
        try:
            _, old_rows = env.warm_start.source.user_item_matrix(self.NAME)
        except ConfigError:
            return None
        saved = artifact.load(
            lambda files: self._read_factors(files, len(old_rows)),
            what="Warm-start state of bpr",
            fallback="trained from scratch",
        )
        if saved is None:
            return None
        old_users, items, bias = saved
        dims = self.config.dims
        users = np.random.default_rng(self.config.seed).normal(0.0, 0.1, size=(n_users, dims)).astype(np.float32)
        for uid, row in self.user_rows.items():
            old = old_rows.get(uid)
            if old is not None:
                users[row] = old_users[old]
        return users, items, bias, artifact.folder

    def _negatives(self, env: Env, shape: tuple[int, int]) -> sparse.csr_matrix | None:
        """``env.negatives`` as a binary users x items matrix in this scorer's user rows (None without any)."""
        neg = env.negatives
        if neg is None or len(neg) == 0:
            return None
        rows = np.array([self.user_rows.get(str(u), -1) for u in neg.user_ids], dtype=np.int64)
        keep = rows >= 0
        if not keep.any():
            return None
        m = sparse.csr_matrix(
            (np.ones(int(keep.sum()), dtype=np.float32), (rows[keep], neg.item_index[keep])), shape=shape
        )
        m.data[:] = 1.0
        return m

    def _pair_diff_fn(self, x: sparse.csr_matrix, device: str) -> Any:
        """The training pair's x_uij from (p_u, q_i, q_j, b_i, b_j, i, j): BPR's s(u, i) - s(u, j).

        ``x`` is the training matrix, for a model whose training score depends on the data (PDA)."""

        def diff(pu: Any, qi: Any, qj: Any, bi: Any, bj: Any, i: Any, j: Any) -> Any:
            return (pu * (qi - qj)).sum(-1) + bi - bj

        return diff

    def _train(
        self,
        matrix: object,
        init: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
        epochs: int | None = None,
        negatives: sparse.csr_matrix | None = None,
    ) -> list[float]:
        """Fit the factors; returns the mean loss per epoch.

        ``init`` (user factors, item factors, item bias) continues from earlier weights instead of
        a random start, for ``epochs`` epochs (default: the config's). ``negatives`` (users x items,
        binary) are explicit negatives: never sampled as positives, and each user's triples draw
        half their negatives from them.
        """
        import torch as t

        cfg = self.config
        x = sparse.csr_matrix(matrix)
        if negatives is not None:
            x = sparse.csr_matrix(x - x.multiply(negatives))
            x.eliminate_zeros()
        n_users, n_items = x.shape
        sampler = TripleSampler(
            x, cfg.negatives, cfg.negative_sampling, cfg.batching, cfg.strata, cfg.seed, explicit=negatives
        )
        t.manual_seed(cfg.seed)
        dev = self.env.device
        user_emb = t.nn.Embedding(n_users, cfg.dims, device=dev)
        item_emb = t.nn.Embedding(n_items, cfg.dims, device=dev)
        bias = t.nn.Embedding(n_items, 1, device=dev)
        for emb in (user_emb, item_emb):
            t.nn.init.normal_(emb.weight, std=0.1)
        t.nn.init.zeros_(bias.weight)
        if init is not None:
            with t.no_grad():
                user_emb.weight.copy_(t.as_tensor(init[0]))
                item_emb.weight.copy_(t.as_tensor(init[1]))
                bias.weight.copy_(t.as_tensor(init[2]).reshape(-1, 1))
        params = [*user_emb.parameters(), *item_emb.parameters()]
        if self.ITEM_BIAS:
            params += [*bias.parameters()]
        opt = t.optim.Adam(params, lr=cfg.lr)
        pair_diff = self._pair_diff_fn(x, dev)
        losses: list[float] = []
        n_epochs = cfg.epochs if epochs is None else epochs
        epoch_range = range(n_epochs)
        if self.env.progress:
            from tqdm import tqdm

            desc = f"{self.NAME} (warm start)" if init is not None else self.NAME
            epoch_range = tqdm(epoch_range, desc=desc, unit="epoch")
        for epoch in epoch_range:
            self.env.checkpoint(f"training {self.NAME}", epoch / n_epochs)
            u, i, j = sampler.epoch()
            total = 0.0
            for start in range(0, u.size, cfg.batch_size):
                sl = slice(start, start + cfg.batch_size)
                bu = t.as_tensor(u[sl], device=dev)
                bi = t.as_tensor(i[sl], device=dev)
                bj = t.as_tensor(j[sl], device=dev)
                pu, qi, qj = user_emb(bu), item_emb(bi), item_emb(bj)
                diff = pair_diff(pu, qi, qj, bias(bi).squeeze(-1), bias(bj).squeeze(-1), bi, bj)
                loss = -t.nn.functional.logsigmoid(diff).mean()
                reg = cfg.l2 * (pu.pow(2).sum() + qi.pow(2).sum() + qj.pow(2).sum()) / bu.shape[0]
                opt.zero_grad()
                (loss + reg).backward()
                opt.step()
                total += float(loss.detach()) * bu.shape[0]
            losses.append(round(total / max(u.size, 1), 5))
        self.user_factors = user_emb.weight.detach().cpu().numpy()
        self.item_factors = item_emb.weight.detach().cpu().numpy()
        self.item_bias = bias.weight.detach().cpu().numpy().ravel()
        return losses

    def _user_vector(self, state: UserState) -> np.ndarray | None:
        """The learned vector for a training user; a folded-in one for anyone else."""
        uid = state.context.user_id
        if uid is not None and uid in self.user_rows:
            return self.user_factors[self.user_rows[uid]]
        hist = np.unique(state.seen_index)
        if hist.size == 0:
            return None
        return self._fold_in([hist])[0]

    def _fold_in(self, histories: list[np.ndarray], chunk: int = 64) -> np.ndarray:
        """Fit user vectors with item factors fixed: BPR steps against one fixed negative sample.

        The loss is a sum of per-user terms and Adam is element-wise, so a user's vector does
        not depend on who else is in the batch.
        """
        import torch as t

        items = t.as_tensor(self.item_factors)
        bias = t.as_tensor(self.item_bias)
        gen = np.random.default_rng(self.config.seed)
        neg = t.as_tensor(gen.choice(items.shape[0], size=min(256, items.shape[0]), replace=False))
        q_neg, b_neg = items[neg], bias[neg]
        out = np.zeros((len(histories), items.shape[1]), dtype=np.float32)
        for start in range(0, len(histories), chunk):
            part = histories[start : start + chunk]
            width = max(h.size for h in part)
            pos = t.zeros(len(part), width, dtype=t.long)
            mask = t.zeros(len(part), width)
            for r, h in enumerate(part):
                pos[r, : h.size] = t.as_tensor(h)
                mask[r, : h.size] = 1.0
            vec = t.zeros(len(part), items.shape[1], requires_grad=True)
            opt = t.optim.Adam([vec], lr=0.05)
            for _ in range(self.config.fold_in_steps):
                s_pos = (vec[:, None, :] * items[pos]).sum(-1) + bias[pos]  # users x width
                s_neg = vec @ q_neg.T + b_neg  # users x negatives
                pair = t.nn.functional.logsigmoid(s_pos[:, :, None] - s_neg[:, None, :]).mean(-1)
                loss = -((pair * mask).sum(1) / mask.sum(1)).sum() + self.config.l2 * vec.pow(2).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
            out[start : start + len(part)] = vec.detach().numpy()
        return out

    def __call__(self, state: UserState, intent: Intent, candidates: np.ndarray) -> ScoreList:
        vec = self._user_vector(state)
        if vec is None:
            return ScoreList(self.NAME, np.full(candidates.shape[0], np.nan), note="no history to fit a user vector")
        scores = self.item_factors[candidates] @ vec + self.item_bias[candidates]
        return ScoreList(self.NAME, self._ranking_scores(scores[None, :].astype(np.float64), candidates)[0])

    def score_users(
        self, states: list[UserState], intents: list[Intent], items: np.ndarray | None = None
    ) -> np.ndarray:
        cols = np.arange(len(self.catalog)) if items is None else items
        factors, bias = self.item_factors[cols], self.item_bias[cols]
        out = np.full((len(states), cols.size), np.nan)
        unknown = []
        for row, state in enumerate(states):
            uid = state.context.user_id
            if uid is not None and uid in self.user_rows:
                out[row] = factors @ self.user_factors[self.user_rows[uid]] + bias
            elif state.seen_index.size:
                unknown.append(row)
        if unknown:
            vecs = self._fold_in([np.unique(states[r].seen_index) for r in unknown])
            out[unknown] = vecs @ factors.T + bias[None, :]
        return self._ranking_scores(out, cols)

    def _ranking_scores(self, raw: np.ndarray, items: np.ndarray) -> np.ndarray:
        """What is ranked from the model's raw scores (users x ``items``): BPR ranks them as they are."""
        return raw

    def explain(self, state: UserState, items: np.ndarray) -> dict[int, list[Evidence]]:
        # Factor models have no exact per-item decomposition; report the history items
        # whose factors are closest to the recommended item's (what the model "sees" as similar).
        hist = np.unique(state.seen_index)
        out: dict[int, list[Evidence]] = {}
        norms = np.linalg.norm(self.item_factors, axis=1) + 1e-12
        for i in items:
            i = int(i)
            if hist.size == 0:
                out[i] = []
                continue
            sims = (self.item_factors[hist] @ self.item_factors[i]) / (norms[hist] * norms[i])
            order = np.argsort(-sims, kind="stable")[: self.config.evidence_items]
            out[i] = [
                Evidence("history_item", self.catalog.items[int(hist[j])].title, float(sims[j]),
                         item_id=self.catalog.items[int(hist[j])].item_id)
                for j in order
            ]  # fmt: skip
        return out
