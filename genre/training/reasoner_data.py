"""Training data for the reason generator: (request, reason) pairs, tokenized exactly as inference prompts.

Every example is a (:class:`~genre.core.types.ReasonRequest`, reason) pair:

* the hand-written reference pairs of each reference domain (products, news), minus the
  recommended items :func:`~genre.evaluation.explanations.reference_split` holds out (20%, by
  item) for evaluation;
* template reasons for real requests: the config's pipeline ranks items for a sample of users
  (dataset users outside the explanation-evaluation sample, or short synthetic histories for a
  catalog without interactions) and the template reasoner explains them. For MovieLens configs
  this is what teaches the model film titles and genres.

**Same prompt as inference.** These literal pairs are delexicalised into slotted sentences and
tokenized exactly as the grounded ``tuned-local`` prompts by :mod:`genre.training.slotted_data`;
the loss covers only the answer tokens (the slotted sentence and the end-of-turn token).

**Verified targets only.** A target the verifier (:mod:`genre.text.verifier`) rejects against its own
request is left out: a reason with a wrong claim would teach the model to make it. Every reference and
template reason passes today (the tests check both), so this only guards against future data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from genre.components.reasoners.template import TemplateReasoner, requests_from_trace
from genre.config import load_config
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, HistoryEvent, ReasonRequest, UserContext
from genre.data import load_catalog
from genre.data.profiles import interactions_to_context
from genre.data.references import ReferencePair, load_references, reference_path, to_request
from genre.evaluation.explanations import eval_user_ids, reference_split
from genre.text.verifier import Verifier

if TYPE_CHECKING:
    from genre.pipeline import Pipeline

__all__ = [
    "EXCLUDED_EVAL_USERS",
    "REFERENCE_DOMAINS",
    "ReferenceSet",
    "TrainingExample",
    "TrainingPair",
    "data_hash",
    "load_reference_sets",
    "reference_pairs",
    "template_pairs",
    "training_contexts",
]

REFERENCE_DOMAINS = ("products", "news")
"""Domains whose ``sample_data/reasons/<domain>.jsonl`` reference pairs every adapter trains on."""
EXCLUDED_EVAL_USERS = 200
"""Dataset users reserved for explanation evaluation (the first of its permutation), never trained on."""


@dataclass(frozen=True)
class TrainingPair:
    """One request and the reason the model should write for it."""

    request: ReasonRequest
    target: str
    source: str
    """Where the pair came from: ``reference:<domain>`` or ``template:<catalog>``."""
    style: str = "one-line"
    """The reason style ``target`` is written in (a styled reference row's style)."""


@dataclass(frozen=True)
class TrainingExample:
    """Token ids of prompt + answer, and labels that are -100 on the prompt (no loss there)."""

    input_ids: list[int]
    labels: list[int]
    prompt: str
    """The exact text the reasoner gives the model at inference."""
    target: str
    source: str
    style: str = "one-line"
    """The reason style of the target (the card lists the styles an adapter was trained for)."""

    @property
    def prompt_length(self) -> int:
        return next(i for i, label in enumerate(self.labels) if label != -100)


@dataclass
class ReferenceSet:
    """One domain's reference pairs with the catalog their ids refer to."""

    domain: str
    catalog: Catalog
    pairs: list[ReferencePair]
    """Rows of every style; :meth:`one_line` are the ones reference metrics compare one-line reasons with."""

    def one_line(self) -> list[ReferencePair]:
        """The one-line rows (metrics compare like with like)."""
        return [p for p in self.pairs if p.style == "one-line"]


def load_reference_sets(domains: Sequence[str] = REFERENCE_DOMAINS) -> list[ReferenceSet]:
    """Each domain's reference file read against its catalog (``configs/<domain>.toml``), rows of every style.

    A malformed row raises the loader's :class:`DataError`, which names the file and line.
    """
    sets = []
    for domain in domains:
        config = load_config(PROJECT_ROOT / "configs" / f"{domain}.toml")
        catalog = load_catalog(config.data)
        sets.append(ReferenceSet(domain, catalog, load_references(reference_path(domain), catalog, styles=None)))
    return sets


def reference_pairs(sets: Sequence[ReferenceSet]) -> list[TrainingPair]:
    """One training pair per reference reason of the training side of each domain's split, tagged with its style.

    A one-line reason must pass the verifier whole; a styled one is checked point by point when it is
    delexicalised (:mod:`genre.training.slotted_data`), as the styled reasoners check their points.
    """
    out = []
    for ref in sets:
        verifier = Verifier(ref.catalog)
        train, _ = reference_split(ref.pairs)
        for pair in train:
            request = to_request(pair, ref.catalog)
            out += [
                TrainingPair(request, reason, f"reference:{ref.domain}", pair.style)
                for reason in pair.reasons
                if pair.style != "one-line" or verifier.verify(reason, request).passed
            ]
    return out


def _synthetic_contexts(catalog: Catalog, n: int, rng: np.random.Generator) -> list[UserContext]:
    """Short histories for a catalog without users: an item and 1-3 others sharing its first category."""
    by_category: dict[str, list[int]] = {}
    for index, item in enumerate(catalog.items):
        for c in item.categories[:1]:
            by_category.setdefault(c, []).append(index)
    out = []
    for _ in range(n):
        anchor = int(rng.integers(len(catalog)))
        item = catalog.items[anchor]
        pool = [i for i in by_category.get(item.categories[0], []) if i != anchor] if item.categories else []
        if not pool:
            pool = [i for i in range(len(catalog)) if i != anchor]
        extra = rng.choice(pool, size=min(len(pool), int(rng.integers(1, 4))), replace=False).tolist()
        picks = [anchor, *extra]
        out.append(UserContext(history=[HistoryEvent(item_id=catalog.items[i].item_id) for i in picks]))
    return out


def training_contexts(catalog: Catalog, n: int, seed: int) -> list[UserContext]:
    """Users to explain recommendations for: dataset users the explanation metrics never use, else synthetic."""
    rng = np.random.default_rng(seed)
    inter = catalog.interactions
    if inter is None or len(inter) == 0:
        return _synthetic_contexts(catalog, n, rng)
    reserved = set(eval_user_ids(inter, EXCLUDED_EVAL_USERS))
    pool = sorted(str(u) for u in inter.users() if str(u) not in reserved)
    picked = rng.choice(len(pool), size=min(n, len(pool)), replace=False)
    return [interactions_to_context(catalog, pool[i]) for i in sorted(picked.tolist())]


def template_pairs(pipe: Pipeline, users: int, items: int, seed: int) -> list[TrainingPair]:
    """Verified template reasons for the top ``items`` the pipeline recommends to each of ``users`` users."""
    spec = pipe.config.explain
    template = TemplateReasoner(spec.config if spec.component == "template" else {})
    verifier = Verifier(pipe.catalog)
    out = []
    for ctx in training_contexts(pipe.catalog, users, seed):
        trace = pipe.run(ctx, k=min(items, len(pipe.catalog)), reasons=False)
        requests = [r for r in requests_from_trace(trace, pipe.catalog) if not r.cold_start]
        for request, reason in zip(requests, template(requests).reasons, strict=True):
            if verifier.verify(reason.text, request).passed:
                out.append(TrainingPair(request, reason.text, f"template:{pipe.catalog.name}"))
    return out


def data_hash(examples: Sequence[TrainingExample]) -> str:
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(json.dumps([ex.source, ex.prompt, ex.target]).encode())
    return digest.hexdigest()[:16]
