"""The simulated demo logs: seeded, reproducible, shaped by the profiles, and labelled simulated."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from genre.config import load_config
from genre.data.simulate import NEWS, PRODUCTS, SIMULATED_HEADER, simulate, write_demo_log
from tests.conftest import ROOT


def _domain(name: str) -> tuple[list[dict], list[dict]]:
    folder = ROOT / "sample_data" / name
    items = [json.loads(line) for line in (folder / "items.jsonl").read_text().splitlines() if line]
    return items, json.loads((folder / "profiles.json").read_text())


@pytest.mark.parametrize("spec", [PRODUCTS, NEWS], ids=["products", "news"])
def test_the_committed_log_is_what_the_generator_writes(spec, tmp_path):
    folder = ROOT / "sample_data" / spec.domain
    for name in ("items.jsonl", "profiles.json"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    fresh = write_demo_log(tmp_path, spec)
    assert fresh.read_text() == (folder / "simulated_log.csv").read_text(), "run scripts/simulate_logs.py"


def test_a_seed_gives_the_same_log_and_another_seed_another():
    items, profiles = _domain("news")
    small = replace(NEWS, users_per_profile=5)
    assert simulate(items, profiles, small) == simulate(items, profiles, small)
    assert simulate(items, profiles, small) != simulate(items, profiles, replace(small, seed=16))


def test_product_funnels_go_view_click_cart_purchase_in_time_order():
    items, profiles = _domain("products")
    rows = simulate(items, profiles, replace(PRODUCTS, users_per_profile=10))
    steps: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for user, item, when, event in rows:
        steps[user, item].append((when, event))
    funnel = ["view", "click", "cart", "purchase"]
    for events in steps.values():
        kinds = [e for _, e in events]
        assert kinds == funnel[: len(kinds)], kinds  # each step needs the one before it
        assert [w for w, _ in events] == sorted(w for w, _ in events)
    counts = Counter(e for *_, e in rows)
    assert counts["view"] > counts["click"] > counts["cart"] > counts["purchase"] > 0


def test_news_are_clicked_only_after_publication():
    items, profiles = _domain("news")
    published = {i["item_id"]: i["attributes"]["published"] for i in items}
    rows = simulate(items, profiles, replace(NEWS, users_per_profile=10))
    assert {e for *_, e in rows} == {"click"}
    assert all(when[:10] >= published[item] for _, item, when, _ in rows)


@pytest.mark.parametrize("domain", ["products", "news"])
def test_users_drawn_around_a_profile_share_its_favourite_category(domain):
    items, profiles = _domain(domain)
    category = {i["item_id"]: i["category"] for i in items}
    spec = replace(PRODUCTS if domain == "products" else NEWS, users_per_profile=20)
    rows = simulate(items, profiles, spec)
    for prof in profiles:
        favourite = Counter(category[h["item_id"]] for h in prof["history"]).most_common(1)[0][0]
        theirs = Counter(category[item] for user, item, *_ in rows if user.startswith(f"sim-{prof['profile_id']}-"))
        assert theirs.most_common(1)[0][0] == favourite, (prof["profile_id"], theirs.most_common(3))


@pytest.mark.parametrize("domain", ["products", "news"])
def test_the_logs_configs_say_simulated_and_read_the_log(domain):
    cfg = load_config(ROOT / "configs" / f"{domain}-logs.toml")
    assert cfg.data.simulated and cfg.data.interactions == f"sample_data/{domain}/simulated_log.csv"
    header = (ROOT / cfg.data.interactions).read_text().splitlines()[0]
    assert tuple(header.split(",")) == SIMULATED_HEADER
    for real in ("products", "news"):  # the plain configs stay without a log (their benches and tests rely on it)
        assert load_config(ROOT / "configs" / f"{real}.toml").data.interactions is None


def test_timestamps_are_iso_within_the_period():
    items, profiles = _domain("products")
    rows = simulate(items, profiles, replace(PRODUCTS, users_per_profile=3))
    start = datetime.fromisoformat(PRODUCTS.start).replace(tzinfo=UTC)
    for *_, when, _ in rows:
        t = datetime.fromisoformat(when).replace(tzinfo=UTC)
        assert 0 <= (t - start).days <= PRODUCTS.days
