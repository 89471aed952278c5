"""One reason request as a JSON record, and back: what a review keeps as the context of a judged reason.

The field names are a labelled record's (:mod:`genre.data.labelled`: ``item_id``, ``history_ids``,
``intent``, ``contributions``, ``evidence``, ``cold_start``, ``items``), so a labelled record's
request fields parse too. Training rebuilds the fact plan from the request
(:mod:`genre.training.review_data`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genre.core.errors import DataError
from genre.core.types import Catalog, Evidence, Intent, IntentLabel, Item, ReasonRequest

__all__ = ["IntentRecord", "ItemRecord", "request_from_record", "request_record"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Evidence(_Strict):
    kind: Literal["history_item", "attribute", "popularity", "profile", "intent"]
    item_id: str | None = None
    weight: float
    label: str | None = None
    count: int | None = None


class ItemRecord(_Strict):
    """An item as a record stores it, so it reads back without the catalog (also the labelled set's)."""

    title: str = Field(min_length=1)
    categories: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class IntentRecord(_Strict):
    label: str = Field(min_length=1)
    probability: float = Field(ge=0.0, le=1.0)


class _RequestRecord(_Strict):
    item_id: str = Field(min_length=1)
    history_ids: list[str]
    intent: list[IntentRecord]
    contributions: dict[str, float]
    evidence: dict[str, list[_Evidence]]
    cold_start: bool = False
    items: dict[str, ItemRecord] | None = None


def request_record(req: ReasonRequest, *, with_items: bool = True) -> dict[str, Any]:
    """``req`` as a JSON-ready record: ids, intent, contributions, evidence, and the items' fields.

    The inverse is :func:`request_from_record`. ``with_items=False`` leaves out every catalog
    string (titles, evidence labels naming items), as a MovieLens labelled record does; the request
    is then rebuilt from the catalog. A review store lives in the user's cache, so it keeps them.
    """
    evidence = {
        name: [
            {"kind": e.kind, "item_id": e.item_id, "weight": float(e.weight)}
            | ({} if not with_items and e.item_id is not None else {"label": e.label})
            | ({} if e.count is None else {"count": int(e.count)})
            for e in evs
        ]
        for name, evs in req.evidence.items()
    }
    out: dict[str, Any] = {
        "item_id": req.item.item_id,
        "history_ids": [h.item_id for h in req.history],
        "intent": [{"label": lbl.label, "probability": float(lbl.probability)} for lbl in req.intent.labels],
        "contributions": {n: float(c) for n, c in req.contributions.items()},
        "evidence": evidence,
        "cold_start": req.cold_start,
    }
    if with_items:
        items = {req.item.item_id: req.item} | {h.item_id: h for h in req.history}
        out["items"] = {
            i: {"title": it.title, "categories": list(it.categories), "tags": list(it.tags),
                "attributes": dict(it.attributes), "description": it.description}
            for i, it in items.items()
        }  # fmt: skip
    return out


def request_from_record(record: dict[str, Any], catalog: Catalog | None = None) -> ReasonRequest:
    """The request :func:`request_record` wrote.

    Items come from the record's ``items``, else from ``catalog``; an evidence label left out is
    the cited item's title. A malformed record, or an item found in neither, raises DataError.
    Keys a labelled record has beyond the request's (its id, text, label…) are ignored.
    """
    if not isinstance(record, dict):
        raise DataError(f"a request record is a JSON object, not {type(record).__name__}")
    fields = {k: v for k, v in record.items() if k in _RequestRecord.model_fields}
    try:
        rec = _RequestRecord.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise DataError(f"not a request record: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    stored = {
        i: Item(i, r.title, tuple(r.categories), r.description, tuple(r.tags), dict(r.attributes))
        for i, r in (rec.items or {}).items()
    }

    def item(ident: str) -> Item:
        if ident in stored:
            return stored[ident]
        index = None if catalog is None else catalog.index_of(ident)
        if catalog is None or index is None:
            where = "" if catalog is None else f" nor in the catalog {catalog.name}"
            raise DataError(f"request record: item {ident!r} is not in the record's items{where}")
        return catalog.items[index]

    target, history = item(rec.item_id), [item(i) for i in rec.history_ids]
    target, history = item(rec.item_id), [item(i) for i in rec.history_ids]
    evidence = {
        name: [
            Evidence(e.kind, e.label if e.label is not None else item(str(e.item_id)).title, e.weight, e.item_id,
                     e.count)
            for e in evs
        ]
        for name, evs in rec.evidence.items()
    }  # fmt: skip
    intent = Intent(labels=[IntentLabel(label=i.label, probability=i.probability) for i in rec.intent], source="review")
    return ReasonRequest(
        item=target,
        contributions=dict(rec.contributions),
        evidence=evidence,
        history=history,
        intent=intent,
        cold_start=rec.cold_start,
    )
