"""A simulated behaviour log for the sample products and news catalogs (they have no real one).

SIMULATED DATA. Nobody produced these events: a seeded user model below did. They let every component
(collaborative, sequential and learned ones), the Evaluate page and held-out A/B run on the sample catalogs,
and metrics on them check that the pipeline works; they are **not** real-world evidence of quality.

The user model, seeded by the example profiles (``sample_data/<domain>/profiles.json``):

1. **Users around a profile.** Each profile's taste is the share of each category among its history items
   and filter categories, the tags and the brand (products) or source (news) of those items, and its price
   range. ``users_per_profile`` synthetic users are drawn around each profile: category weights from a
   Dirichlet centred on the profile's shares (``concentration``), mixed with a second, random profile with a
   Beta(1, 4) share (side interests), a price tolerance jittered by a log-normal factor.
2. **Utility of an item** for a user: ``log`` of the user's category weight, plus ``tag_weight`` x tags it
   shares with the profile's items, plus ``brand_weight`` if the profile used its brand or source, plus
   ``popularity_weight`` x the item's log-popularity (reviews or reads, scaled to 0-1), minus
   ``price_weight`` x how far a price is outside the user's range (products).
3. **Sessions.** Each user has 2 + Poisson(``sessions``) sessions at random times in the domain's period.
   In a session the user looks at 1 + Poisson(``items_per_session``) items, each drawn by softmax of the
   utility plus ``sequence_weight`` x its similarity with the previous item (shared tags, same brand, same
   category: the next item follows the last, e.g. a tent then its footprint), never an item they have
   already looked at.
4. **Events.** Products go through a funnel: a ``view``, then a ``click`` with probability
   sigmoid(utility - ``click_bar``), a ``cart`` with ``cart_rate`` of those, a ``purchase`` with
   ``purchase_rate`` of carts, each a minute or so after the last. News are ``click`` events, and an article
   can only be read on or after its ``published`` date, more likely while fresh (``recency_days``).

Regenerate with ``python scripts/simulate_logs.py`` (same seed, same files).
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from genre.core.errors import DataError

SIMULATED_HEADER = ("user_id", "item_id", "timestamp", "event")


@dataclass(frozen=True)
class SimulationSpec:
    """The knobs of the user model (see the module docstring for what each does)."""

    domain: str
    start: str
    """First day of the simulated period (ISO date)."""
    days: int
    """Length of the simulated period."""
    popularity_field: str
    """Item attribute that holds the item's popularity (review_count, reads)."""
    brand_field: str
    """Item attribute that identifies its maker: brand (products) or source (news)."""
    funnel: bool
    """Products: view / click / cart / purchase events; news: clicks only."""
    users_per_profile: int = 60
    sessions: float = 3.0
    items_per_session: float = 2.5
    concentration: float = 8.0
    tag_weight: float = 0.6
    brand_weight: float = 0.5
    popularity_weight: float = 1.0
    price_weight: float = 1.5
    sequence_weight: float = 1.2
    click_bar: float = -1.0
    cart_rate: float = 0.45
    purchase_rate: float = 0.6
    recency_days: float = 0.0
    """News: an article's appeal halves every this many days after publication (0 = no recency effect)."""
    seed: int = 15


PRODUCTS = SimulationSpec(
    domain="products", start="2026-01-05", days=270, popularity_field="review_count", brand_field="brand", funnel=True
)
NEWS = SimulationSpec(
    domain="news",
    start="2026-06-02",
    days=180,
    popularity_field="reads",
    brand_field="source",
    funnel=False,
    sessions=3.5,
    items_per_session=2.0,
    recency_days=10.0,
    tag_weight=0.8,
)
SPECS = {spec.domain: spec for spec in (PRODUCTS, NEWS)}


@dataclass
class _Taste:
    categories: dict[str, float]
    tags: Counter[str]
    brands: set[str]
    price: tuple[float | None, float | None]


def _profile_tastes(profiles: list[dict], items: dict[str, dict], brand_field: str) -> list[_Taste]:
    tastes = []
    for prof in profiles:
        hist = [items[h["item_id"]] for h in prof.get("history", []) if h.get("item_id") in items]
        if not hist:
            raise DataError(f"profile {prof.get('profile_id')!r} has no history item in the catalog to seed users from")
        cats: Counter[str] = Counter(i["category"] for i in hist)
        cons = prof.get("constraints") or {}
        for c in cons.get("categories") or []:
            cats[c] += 2  # a filter the person set says more than one item they happened to look at
        total = sum(cats.values())
        tastes.append(
            _Taste(
                categories={c: n / total for c, n in cats.items()},
                tags=Counter(t for i in hist for t in i.get("tags", [])),
                brands={str(i["attributes"].get(brand_field)) for i in hist},
                price=(cons.get("price_min"), cons.get("price_max")),
            )
        )
    return tastes


class _Model:
    """Item features the user model reads, as arrays over the catalog."""

    def __init__(self, items: list[dict], spec: SimulationSpec) -> None:
        self.spec = spec
        self.ids = [i["item_id"] for i in items]
        self.categories = sorted({i["category"] for i in items})
        self.cat = np.array([self.categories.index(i["category"]) for i in items])
        self.tags = [set(i.get("tags", [])) for i in items]
        self.brand = [str(i["attributes"].get(spec.brand_field)) for i in items]
        pop = np.log1p(np.array([float(i["attributes"].get(spec.popularity_field, 0)) for i in items]))
        self.popularity = (pop - pop.min()) / max(pop.max() - pop.min(), 1e-9)
        self.price = np.array([float(i["attributes"].get("price", math.nan)) for i in items])
        published = [i["attributes"].get("published") for i in items]
        self.published = np.array(
            [datetime.fromisoformat(p).replace(tzinfo=UTC).timestamp() if p else -np.inf for p in published]
        )

    def similarity(self, prev: int) -> np.ndarray:
        shared = np.array([len(self.tags[prev] & t) for t in self.tags], dtype=np.float64)
        same_brand = np.array([b == self.brand[prev] for b in self.brand], dtype=np.float64)
        return shared + 0.5 * same_brand + 0.5 * (self.cat == self.cat[prev])

    def utility(self, taste: _Taste, cat_weights: np.ndarray, price: tuple[float | None, float | None]) -> np.ndarray:
        s = self.spec
        tag_match = np.array([sum(min(taste.tags[t], 2) for t in tags) for tags in self.tags], dtype=np.float64)
        brand = np.array([b in taste.brands for b in self.brand], dtype=np.float64)
        u = np.log(cat_weights[self.cat] + 1e-3) + s.tag_weight * np.minimum(tag_match, 4.0)
        u += s.brand_weight * brand + s.popularity_weight * self.popularity
        lo, hi = price
        with np.errstate(invalid="ignore"):
            if hi is not None:
                u -= s.price_weight * np.nan_to_num(np.maximum(self.price / hi - 1.0, 0.0))
            if lo is not None:
                u -= s.price_weight * np.nan_to_num(np.maximum(1.0 - self.price / lo, 0.0))
        return u


def _softmax_pick(rng: np.random.Generator, logits: np.ndarray, allowed: np.ndarray) -> int | None:
    if not allowed.any():
        return None
    z = np.where(allowed, logits, -np.inf)
    p = np.exp(z - z[allowed].max())
    return int(rng.choice(len(p), p=p / p.sum()))


def simulate(items: list[dict], profiles: list[dict], spec: SimulationSpec) -> list[tuple[str, str, str, str]]:
    """The simulated log's rows (user_id, item_id, ISO timestamp, event), ordered by user and time."""
    rng = np.random.default_rng(spec.seed)
    model = _Model(items, spec)
    item_by_id = {i["item_id"]: i for i in items}
    tastes = _profile_tastes(profiles, item_by_id, spec.brand_field)
    start = datetime.fromisoformat(spec.start).replace(tzinfo=UTC).timestamp()
    period = spec.days * 86400.0
    rows: list[tuple[str, str, str, str]] = []
    for prof, taste in zip(profiles, tastes, strict=True):
        centre = np.array([taste.categories.get(c, 0.0) for c in model.categories]) + 0.02
        for n in range(spec.users_per_profile):
            user = f"sim-{prof['profile_id']}-{n + 1:03d}"
            weights = rng.dirichlet(spec.concentration * centre / centre.sum())
            other = tastes[int(rng.integers(len(tastes)))]
            side = np.array([other.categories.get(c, 0.0) for c in model.categories])
            share = rng.beta(1.0, 4.0)
            weights = (1 - share) * weights + share * side
            jitter = float(np.exp(rng.normal(0.0, 0.3)))
            lo, hi = taste.price
            price = (lo * jitter if lo else None, hi * jitter if hi else None)
            utility = model.utility(taste, weights, price)
            seen = np.zeros(len(items), dtype=bool)
            n_sessions = 2 + int(rng.poisson(spec.sessions))
            for t in np.sort(start + rng.random(n_sessions) * period):
                prev: int | None = None
                clock = float(t)
                for _ in range(1 + int(rng.poisson(spec.items_per_session))):
                    logits = utility.copy()
                    allowed = ~seen
                    if spec.recency_days:
                        age_days = (clock - model.published) / 86400.0
                        allowed &= age_days >= 0
                        logits -= np.log(2.0) * np.maximum(age_days, 0) / spec.recency_days
                    if prev is not None:
                        logits += spec.sequence_weight * model.similarity(prev)
                    pick = _softmax_pick(rng, logits, allowed)
                    if pick is None:
                        break
                    seen[pick] = True
                    rows += _events(rng, spec, user, model.ids[pick], clock, utility[pick])
                    clock += float(rng.uniform(60, 600))
                    prev = pick
    return rows


def _events(
    rng: np.random.Generator, spec: SimulationSpec, user: str, item_id: str, clock: float, utility: float
) -> list[tuple[str, str, str, str]]:
    def stamp(t: float) -> str:
        return datetime.fromtimestamp(round(t), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")

    if not spec.funnel:
        return [(user, item_id, stamp(clock), "click")]
    out = [(user, item_id, stamp(clock), "view")]
    if rng.random() < 1.0 / (1.0 + math.exp(-(utility - spec.click_bar))):
        clock += float(rng.uniform(5, 60))
        out.append((user, item_id, stamp(clock), "click"))
        if rng.random() < spec.cart_rate:
            clock += float(rng.uniform(30, 300))
            out.append((user, item_id, stamp(clock), "cart"))
            if rng.random() < spec.purchase_rate:
                clock += float(rng.uniform(60, 600))
                out.append((user, item_id, stamp(clock), "purchase"))
    return out


def write_demo_log(folder: Path, spec: SimulationSpec, out_name: str = "simulated_log.csv") -> Path:
    """Simulate ``folder``'s catalog (items.jsonl) from its profiles (profiles.json) and write the CSV log."""
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text(encoding="utf-8").splitlines() if line]
    profiles = json.loads((folder / "profiles.json").read_text(encoding="utf-8"))
    rows = simulate(items, profiles, spec)
    out = folder / out_name
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SIMULATED_HEADER)
        writer.writerows(rows)
    return out
