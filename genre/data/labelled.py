"""The labelled quality set: generated reasons, the evidence they were written from, and a person's label.

Files: ``sample_data/reasons/labelled/*.jsonl`` (one per domain), written by ``bench/make_label_pool.py``
and labelled by reading (see that folder's README for the guideline). Each line is one reason; the
loader validates every line and names the file and line of the first bad one.

MovieLens-100K may not be redistributed, so a movies line stores only ids, scores and the generated
text: the titles and genres of the item and of the history items are rebuilt here from the installed
recbole package (:func:`genre.data.movielens.load_movielens_100k`). Products and news lines carry
their items' fields themselves (project data).

Every reason belongs to the ``dev`` part (60%) or the ``heldout`` part (40%): within each domain and
generator, reasons are ordered by the SHA-256 of their id and the first ``round(0.6 n)`` are dev. Tune
thresholds on dev only; report on held-out.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from genre.core.errors import DataError
from genre.core.paths import PROJECT_ROOT
from genre.core.types import Catalog, Evidence, Intent, IntentLabel, Item, ReasonRequest
from genre.data.jsonl import read_jsonl
from genre.data.request_records import IntentRecord, ItemRecord

__all__ = [
    "DEFAULT_DIR",
    "DEV_SHARE",
    "DOMAINS",
    "ERROR_TYPES",
    "GENERATORS",
    "Label",
    "LabelledReason",
    "assign_splits",
    "load_labelled",
]

DEFAULT_DIR = PROJECT_ROOT / "sample_data" / "reasons" / "labelled"
DOMAINS: tuple[str, ...] = ("movies", "products", "news")
GENERATORS: tuple[str, ...] = ("local-llm", "tuned-local", "grounded", "template")
ERROR_TYPES: tuple[str, ...] = (
    "invented_title",
    "wrong_title",
    "unsupported_attribute",
    "unsupported_number",
    "wrong_target",
    "repetition",
    "unfinished",
    "length",
    "markup",
    "language",
    "generic",
    "other",
)
"""What can be wrong with a reason (the README defines each)."""
DEV_SHARE = 0.6
MOVIELENS_DOMAIN = "movies"
"""The one domain whose catalog text may not be stored; its evidence is rebuilt from recbole."""

EvidenceKind = Literal["history_item", "attribute", "popularity", "profile", "intent"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _LabelRecord(_Strict):
    acceptable: bool
    errors: list[str]
    note: str
    labeller: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> _LabelRecord:
        unknown = [e for e in self.errors if e not in ERROR_TYPES]
        if unknown:
            raise ValueError(f"unknown error type {unknown[0]!r}; error types are {', '.join(ERROR_TYPES)}")
        if len(set(self.errors)) != len(self.errors):
            raise ValueError(f"errors list a type twice: {self.errors}")
        if self.acceptable == bool(self.errors):
            raise ValueError(
                f"acceptable={self.acceptable} with errors {self.errors}: an acceptable reason has no errors, "
                "an unacceptable one at least one"
            )
        return self


class _EvidenceRecord(_Strict):
    kind: EvidenceKind
    item_id: str | None = None
    weight: float
    label: str | None = None


class _Record(_Strict):
    id: str = Field(min_length=1)
    domain: Literal["movies", "products", "news"]
    config: str = Field(min_length=1)
    generator: Literal["local-llm", "tuned-local", "grounded", "template"]
    round: Literal["before", "after"] = "before"
    """``before``: written by the generators as they were when the labels were first made; ``after``: by the
    grounded generators and verifier-era template (ids start with ``after:``)."""
    source: str = Field(min_length=1)
    """Who wrote the shown text: the generator, or ``template`` when it fell back."""
    user: str = Field(min_length=1)
    rank: int = Field(ge=1)
    item_id: str = Field(min_length=1)
    history_ids: list[str]
    named_ids: list[str]
    mentioned_ids: list[str]
    intent: list[IntentRecord]
    contributions: dict[str, float]
    evidence: dict[str, list[_EvidenceRecord]]
    cold_start: bool
    faithful: bool | None
    text: str
    items: dict[str, ItemRecord] | None = None
    label: _LabelRecord | None = None

    @model_validator(mode="after")
    def _consistent(self) -> _Record:
        expected = f"{self.domain}:{self.user}:{self.generator}:{self.rank}"
        if self.round == "after":
            expected = "after:" + expected
        if self.id != expected:
            raise ValueError(f"id {self.id!r} should be {expected!r} ([after:]domain:user:generator:rank)")
        unlabelled = [e.kind for evs in self.evidence.values() for e in evs if e.label is None and e.item_id is None]
        if unlabelled:
            raise ValueError(f"{unlabelled[0]} evidence without an item_id needs its label")
        if self.domain != MOVIELENS_DOMAIN:
            bare = [e.item_id for evs in self.evidence.values() for e in evs if e.label is None]
            if bare:
                raise ValueError(f"evidence for item {bare[0]!r} needs its label (only movies labels are rebuilt)")
        known = set(self.history_ids) | set(self.cited_ids())
        stray = [i for i in [*self.named_ids, *self.mentioned_ids] if i not in known]
        if stray:
            raise ValueError(f"named or mentioned id {stray[0]!r} is in neither history_ids nor the evidence")
        if self.domain == MOVIELENS_DOMAIN:
            if self.items is not None:
                raise ValueError("a movies record may not store items: MovieLens text is rebuilt from recbole")
            titled = [e for evs in self.evidence.values() for e in evs if e.item_id is not None and e.label is not None]
            if titled:
                raise ValueError(f"movies evidence for item {titled[0].item_id!r} stores a label (a MovieLens title)")
        else:
            if self.items is None:
                raise ValueError(f"a {self.domain} record must store the fields of its item and history items")
            missing = [i for i in self.all_ids() if i not in self.items]
            if missing:
                raise ValueError(
                    f"items lacks {missing[0]!r} (the item, every history id and every cited id need their fields)"
                )
        return self

    def cited_ids(self) -> list[str]:
        """Item ids the scorers' evidence cites (collaborative scorers may cite items outside the history window)."""
        return [e.item_id for evs in self.evidence.values() for e in evs if e.item_id is not None]

    def all_ids(self) -> list[str]:
        """The item, then the history, then cited items, each once."""
        return list(dict.fromkeys([self.item_id, *self.history_ids, *self.cited_ids()]))


@dataclass(frozen=True)
class Label:
    """A person's judgement of one reason, read against its evidence."""

    acceptable: bool
    errors: tuple[str, ...]
    """Error types from :data:`ERROR_TYPES`; empty exactly when ``acceptable``."""
    note: str
    labeller: str


@dataclass(frozen=True)
class LabelledReason:
    """One generated reason with the evidence it was written from, its label and its split."""

    id: str
    domain: str
    config: str
    generator: str
    """The explain component that was asked (``local-llm``, ``tuned-local``, ``grounded``, ``template``)."""
    round: str
    """``before`` or ``after`` (see the folder's README)."""
    source: str
    """Who wrote the text: the generator, or ``template`` when the generator fell back to it."""
    user: str
    """``user:<MovieLens id>``, ``profile:<example profile id>`` or ``synthetic:<name>``."""
    rank: int
    item_id: str
    history_ids: tuple[str, ...]
    """The request's history, oldest first (the context encoder's window)."""
    named_ids: tuple[str, ...]
    """The history items a generator's prompt lists (strongest evidence first, up to 3)."""
    mentioned_ids: tuple[str, ...]
    """History items the reason names, as the generator matched them."""
    intent: tuple[IntentLabel, ...]
    contributions: dict[str, float]
    evidence: dict[str, tuple[Evidence, ...]]
    """Per scorer, its strongest evidence (up to 5); movies history labels rebuilt as titles."""
    cold_start: bool
    faithful: bool | None
    """The checker's verdict when the pool was generated (what the "faithful" badge showed)."""
    text: str
    label: Label | None
    split: Literal["dev", "heldout"]
    items: dict[str, Item] = field(repr=False)
    """The item, every history item and every item the evidence cites, by id (rebuilt from recbole for movies)."""

    @property
    def item(self) -> Item:
        return self.items[self.item_id]

    @property
    def history(self) -> list[Item]:
        return [self.items[i] for i in self.history_ids]

    @property
    def named(self) -> list[Item]:
        return [self.items[i] for i in self.named_ids]

    def request(self) -> ReasonRequest:
        """The reason request the text was written for, rebuilt from the stored evidence."""
        return ReasonRequest(
            item=self.item,
            contributions=dict(self.contributions),
            evidence={name: list(evs) for name, evs in self.evidence.items()},
            history=self.history,
            intent=Intent(labels=list(self.intent), source="labelled"),
            cold_start=self.cold_start,
        )


def assign_splits(ids: Iterable[tuple[str, str]]) -> dict[str, Literal["dev", "heldout"]]:
    """``dev`` or ``heldout`` per id, given ``(stratum, id)`` pairs: within each stratum the ids are
    ordered by SHA-256 and the first ``round(DEV_SHARE * n)`` are dev."""
    strata: dict[str, list[str]] = defaultdict(list)
    for stratum, ident in ids:
        strata[stratum].append(ident)
    out: dict[str, Literal["dev", "heldout"]] = {}
    for members in strata.values():
        ordered = sorted(members, key=lambda i: hashlib.sha256(i.encode("utf-8")).hexdigest())
        cut = round(DEV_SHARE * len(ordered))
        for n, ident in enumerate(ordered):
            out[ident] = "dev" if n < cut else "heldout"
    return out


def _files(paths: Path | Sequence[Path]) -> list[Path]:
    given = [paths] if isinstance(paths, Path) else list(paths)
    out: list[Path] = []
    for path in given:
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise DataError(f"labelled-reasons folder {path} holds no .jsonl files")
            out += found
        elif path.is_file():
            out.append(path)
        else:
            raise DataError(f"labelled-reasons file {path} does not exist")
    return out


def _read(path: Path, require_labels: bool) -> list[tuple[int, _Record]]:
    rows = []
    for lineno, rec in read_jsonl(path, _Record):
        if require_labels and rec.label is None:
            raise DataError(f"{path}:{lineno}: reason {rec.id!r} has no label")
        rows.append((lineno, rec))
    return rows


def _movie_items(rec: _Record, movielens: Catalog, where: str) -> dict[str, Item]:
    out = {}
    for ident in rec.all_ids():
        index = movielens.index_of(ident)
        if index is None:
            raise DataError(f"{where}: item {ident!r} is not in {movielens.name}")
        out[ident] = movielens.items[index]
    return out


def _evidence(rec: _Record, items: dict[str, Item]) -> dict[str, tuple[Evidence, ...]]:
    out = {}
    for name, evs in rec.evidence.items():
        built = []
        for e in evs:
            # Only movies evidence naming an item omits its label (the title): rebuild it.
            label = e.label if e.label is not None else items[str(e.item_id)].title
            built.append(Evidence(e.kind, label, e.weight, e.item_id))
        out[name] = tuple(built)
    return out


def load_labelled(
    paths: Path | Sequence[Path] = DEFAULT_DIR, *, movielens: Catalog | None = None, require_labels: bool = True
) -> list[LabelledReason]:
    """Every reason in ``paths`` (a folder of .jsonl files, a file, or a list of either), validated.

    ``movielens`` is the MovieLens-100K catalog to rebuild movies evidence from (loaded from recbole
    when needed and not given). A bad line, an unknown id or a reason listed twice raises
    :class:`~genre.core.errors.DataError` naming the file and line.
    """
    records: list[tuple[str, _Record]] = []
    seen: dict[str, str] = {}
    for path in _files(paths):
        for lineno, rec in _read(path, require_labels):
            where = f"{path}:{lineno}"
            if rec.id in seen:
                raise DataError(f"{where}: reason {rec.id!r} is listed twice (first at {seen[rec.id]})")
            seen[rec.id] = where
            records.append((where, rec))
    if movielens is None and any(rec.domain == MOVIELENS_DOMAIN for _, rec in records):
        from genre.data.movielens import load_movielens_100k

        movielens = load_movielens_100k()
    # "before" strata keep their original names, so adding the "after" round moved no reason between splits.
    splits = assign_splits(
        (f"{rec.domain}/{rec.generator}" if rec.round == "before" else f"after/{rec.domain}/{rec.generator}", rec.id)
        for _, rec in records
    )
    out = []
    for where, rec in records:
        if rec.domain == MOVIELENS_DOMAIN:
            assert movielens is not None
            items = _movie_items(rec, movielens, where)
        else:
            assert rec.items is not None
            items = {
                i: Item(i, r.title, tuple(r.categories), r.description, tuple(r.tags), dict(r.attributes))
                for i, r in rec.items.items()
            }
        label = rec.label
        out.append(
            LabelledReason(
                id=rec.id,
                domain=rec.domain,
                config=rec.config,
                generator=rec.generator,
                round=rec.round,
                source=rec.source,
                user=rec.user,
                rank=rec.rank,
                item_id=rec.item_id,
                history_ids=tuple(rec.history_ids),
                named_ids=tuple(rec.named_ids),
                mentioned_ids=tuple(rec.mentioned_ids),
                intent=tuple(IntentLabel(label=i.label, probability=i.probability) for i in rec.intent),
                contributions=dict(rec.contributions),
                evidence=_evidence(rec, items),
                cold_start=rec.cold_start,
                faithful=rec.faithful,
                text=rec.text,
                label=None
                if label is None
                else Label(label.acceptable, tuple(label.errors), label.note, label.labeller),
                split=splits[rec.id],
                items=items,
            )
        )
    return out
