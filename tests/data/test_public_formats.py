"""MIND and Amazon Reviews 2023 readers, on small fixtures written in those formats (tests/fixtures)."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from genre.config import DataConfig
from genre.core.errors import DataError
from genre.data import load_catalog, load_notices
from tests.conftest import ROOT

MIND = ROOT / "tests" / "fixtures" / "mind"
AMAZON = ROOT / "tests" / "fixtures" / "amazon2023"


def _history(catalog, user: str) -> list[tuple[str, float, float]]:
    inter = catalog.interactions.for_user(user)
    return [
        (catalog.items[i].item_id, t, r)
        for i, t, r in zip(inter.item_index, inter.timestamps, inter.ratings, strict=True)
    ]


def _mind(behaviors=MIND / "behaviors.tsv", news=MIND / "news.tsv", **extra) -> DataConfig:
    return DataConfig(loader="mind", path=str(news), interactions=str(behaviors), name="mind-small", **extra)


def test_mind_news_become_items_with_category_subcategory_and_abstract(cache):
    cat = load_catalog(_mind())
    assert len(cat) == 16
    item = cat.items[cat.index_of("N1001")]
    assert item.title == "Harbor City rallies late to stay unbeaten"
    assert item.categories == ("sports", "football_nfl")
    assert item.description.startswith("A fourth-quarter drive")
    assert item.attributes["url"] == "https://assets.example.org/N1001.html"


def test_mind_clicks_history_before_the_impression_and_no_unclicked_news(cache):
    cat = load_catalog(_mind())
    first = datetime(2019, 11, 11, 9, 5, 58, tzinfo=UTC).timestamp()
    second = datetime(2019, 11, 12, 7, 30, 0, tzinfo=UTC).timestamp()
    # History (no times in MIND) one second apart before the first impression; clicks at their impression.
    assert _history(cat, "U101") == [
        ("N1001", first - 2, 2.0),
        ("N1003", first - 1, 2.0),
        ("N1002", first, 2.0),
        ("N1011", second, 2.0),
    ]
    assert [i for i, _, _ in _history(cat, "U105")] == ["N1014"]  # empty history, one click
    shown_not_clicked = {"N1004", "N1013"}
    assert not shown_not_clicked & {i for i, _, _ in _history(cat, "U101")}
    assert len(cat.interactions.users()) == 8


def test_mind_bad_behaviors_lines_name_file_line_and_reason(tmp_path, cache):
    lines = (MIND / "behaviors.tsv").read_text().splitlines()
    lines[2] = lines[2].replace("N1009-1", "N9999-1")
    lines[4] = lines[4].replace("11/12/2019 8:00:12 PM", "2019-11-12 20:00")
    bad = tmp_path / "behaviors.tsv"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_catalog(_mind(bad))
    message = str(err.value)
    assert f"{bad}:3: unknown news id 'N9999'" in message
    assert f"{bad}:5: time '2019-11-12 20:00' is not like '11/15/2019 8:55:22 AM'" in message
    cfg = _mind(bad, max_bad_fraction=0.2)
    assert len(load_catalog(cfg).interactions.users()) == 8
    assert load_notices(cfg)[0].startswith("Skipped 2 of 12 lines of behaviors.tsv")


def test_mind_malformed_news_line_is_an_error(tmp_path, cache):
    news = tmp_path / "news.tsv"
    news.write_text((MIND / "news.tsv").read_text() + "N2000\tsports\tonly four fields\n")
    with pytest.raises(DataError, match=r"news.tsv:17: expected 8 tab-separated fields .* found 3"):
        load_catalog(_mind(news=news))


def test_mind_and_amazon_need_both_files():
    with pytest.raises(ValidationError, match=r"loader 'mind' needs `interactions` \(behaviors.tsv\)"):
        DataConfig(loader="mind", path="news.tsv")
    with pytest.raises(ValidationError, match="loader 'amazon-reviews-2023' needs `interactions`"):
        DataConfig(loader="amazon-reviews-2023", path="meta.jsonl")


def _amazon(reviews=AMAZON / "Toys_and_Games.jsonl", **extra) -> DataConfig:
    meta = AMAZON / "meta_Toys_and_Games.jsonl"
    return DataConfig(loader="amazon-reviews-2023", path=str(meta), interactions=str(reviews), name="toys", **extra)


def test_amazon_meta_becomes_items(cache):
    cat = load_catalog(_amazon())
    assert len(cat) == 10
    item = cat.items[cat.index_of("B0FX000005")]
    assert item.title == "Orbit Lab Beginner Chemistry Set"
    assert item.categories == ("Toys & Games", "Learning & Education", "Science Kits")
    assert item.tags == ("25 experiments", "Safety goggles included")
    assert item.attributes == {
        "brand": "Orbit Lab",
        "price": 34.95,
        "rating": 4.1,
        "review_count": 420,
        "main_category": "Toys & Games",
    }
    fox = cat.items[cat.index_of("B0FX000010")]
    assert "price" not in fox.attributes  # "from 9.99" is no number
    assert fox.categories == ("Toys & Games",)  # no categories: main_category stands in


def test_amazon_reviews_are_rated_interactions_by_parent_asin_in_seconds(cache):
    cat = load_catalog(_amazon())
    assert len(cat.interactions) == 18 and len(cat.interactions.users()) == 6
    assert _history(cat, "AE2FXQ7ZUSER0003") == [
        ("B0FX000005", 1610000000.0, 4.0),
        ("B0FX000006", 1612000000.0, 2.0),
        ("B0FX000008", 1615000000.0, 4.0),
    ]


def test_amazon_bad_review_lines(tmp_path, cache):
    lines = (AMAZON / "Toys_and_Games.jsonl").read_text().splitlines()
    rec = json.loads(lines[3])
    rec["rating"] = -2.0
    lines[3] = json.dumps(rec)
    lines[5] = json.dumps({k: v for k, v in json.loads(lines[5]).items() if k != "user_id"})
    lines[7] = lines[7][:40]
    rec = json.loads(lines[9])
    rec["parent_asin"] = "B0NOTTHERE"
    lines[9] = json.dumps(rec)
    bad = tmp_path / "Toys_and_Games.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        load_catalog(_amazon(bad))
    message = str(err.value)
    assert f"{bad}:4: rating -2 is negative" in message
    assert f"{bad}:6: missing field(s) user_id" in message
    assert f"{bad}:8: not valid JSON" in message
    assert f"{bad}:10: unknown item id 'B0NOTTHERE'" in message
    with pytest.raises(DataError, match=r"that is 22.2% of 18 lines, over max_bad_fraction = 0.2"):
        load_catalog(_amazon(bad, max_bad_fraction=0.2))


def test_amazon_meta_errors_name_the_line(tmp_path, cache):
    folder = tmp_path / "amazon"
    shutil.copytree(AMAZON, folder)
    meta = folder / "meta_Toys_and_Games.jsonl"
    meta.write_text(meta.read_text() + json.dumps({"parent_asin": "B0FX000099"}) + "\n")
    cfg = DataConfig(loader="amazon-reviews-2023", path=str(meta), interactions=str(folder / "Toys_and_Games.jsonl"))
    with pytest.raises(DataError, match=r"meta_Toys_and_Games.jsonl:11: parent_asin and title must be present"):
        load_catalog(cfg)
