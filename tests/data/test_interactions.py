"""[data] interactions for JSONL catalogs: columns, event weights, collapsing, and every kind of bad input."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from genre.config import DataConfig
from genre.core.errors import DataError
from genre.data import load_catalog, load_notices


def _cfg(catalog_file, log, **extra) -> DataConfig:
    return DataConfig(loader="jsonl", path=str(catalog_file), name="tiny", interactions=str(log), **extra)


def _write(tmp_path, text: str, name: str = "log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _events(catalog) -> list[tuple[str, str, float, float]]:
    inter = catalog.interactions
    return [
        (u, catalog.items[i].item_id, t, r)
        for u, i, t, r in zip(inter.user_ids, inter.item_index, inter.timestamps, inter.ratings, strict=True)
    ]


def test_events_collapse_to_first_time_and_strongest_weight(tiny_catalog_file, tmp_path, cache):
    log = _write(
        tmp_path,
        "user_id,item_id,timestamp,event\n"
        "u1,a,100,view\nu1,a,160,click\nu1,a,400,purchase\n"
        "u1,b,200,view\n"
        "u2,c,50,cart\nu2,c,60,view\n",
    )
    cat = load_catalog(_cfg(tiny_catalog_file, log))
    assert _events(cat) == [("u2", "c", 50.0, 4.0), ("u1", "a", 100.0, 5.0), ("u1", "b", 200.0, 1.0)]


def test_event_weights_are_configurable_and_zero_drops_the_kind(tiny_catalog_file, tmp_path, cache):
    log = _write(tmp_path, "user_id,item_id,timestamp,event\nu1,a,1,view\nu1,b,2,click\nu2,a,3,view\n")
    cfg = _cfg(tiny_catalog_file, log, event_weights={"view": 0.0, "click": 3.5})
    cat = load_catalog(cfg)
    assert _events(cat) == [("u1", "b", 2.0, 3.5)]
    assert load_notices(cfg) == ["Dropped 2 view event(s) of log.csv: event_weights.view = 0"]


def test_rating_wins_over_event_weight_and_unrated_rows_stay_nan(tiny_catalog_file, tmp_path, cache):
    log = _write(tmp_path, "user_id,item_id,timestamp,rating,event\nu1,a,1,3,purchase\nu1,b,2,,\nu2,c,3,,click\n")
    events = _events(load_catalog(_cfg(tiny_catalog_file, log)))
    assert events[0] == ("u1", "a", 1.0, 3.0)
    assert events[1][:3] == ("u1", "b", 2.0) and math.isnan(events[1][3])
    assert events[2] == ("u2", "c", 3.0, 2.0)


def test_iso_timestamps_and_parquet(tiny_catalog_file, tmp_path, cache):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    pq.write_table(
        pa.table(
            {
                "user_id": ["u1", "u1", "u2"],
                "item_id": ["a", "d", "e"],
                "timestamp": ["2026-01-01T00:00:00", "2026-01-02T00:00:00", "2026-01-01T12:00:00+00:00"],
                "event": ["cart", "view", "purchase"],
            }
        ),
        path,
    )
    cat = load_catalog(_cfg(tiny_catalog_file, path))
    assert [(u, i, r) for u, i, _, r in _events(cat)] == [("u1", "a", 4.0), ("u2", "e", 5.0), ("u1", "d", 1.0)]
    assert cat.interactions.timestamps[0] == 1767225600.0


def test_parquet_with_numeric_user_ids_and_epoch_numbers(tiny_catalog_file, tmp_path, cache):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    table = {"user_id": [0, 0, 7], "item_id": ["a", "b", "a"], "timestamp": [10, 20, 5], "rating": [4.0, None, 2]}
    pq.write_table(pa.table(table), path)
    events = _events(load_catalog(_cfg(tiny_catalog_file, path)))
    assert [(u, i, t) for u, i, t, _ in events] == [("7", "a", 5.0), ("0", "a", 10.0), ("0", "b", 20.0)]
    assert math.isnan(events[2][3]) and events[0][3] == 2.0


def test_the_config_checks_file_type_weights_and_tolerance():
    base = {"loader": "jsonl", "path": "items.jsonl"}
    with pytest.raises(ValidationError, match=r"unsupported file type '\.txt'"):
        DataConfig(**base, interactions="log.txt")
    with pytest.raises(ValidationError, match="less than or equal to 5"):
        DataConfig(**base, interactions="log.csv", event_weights={"purchase": 9})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        DataConfig(**base, interactions="log.csv", event_weights={"view": -1})
    with pytest.raises(ValidationError, match="Extra inputs"):
        DataConfig(**base, interactions="log.csv", event_weights={"wishlist": 1})
    with pytest.raises(ValidationError, match=r"less than or equal to 0\.2"):
        DataConfig(**base, interactions="log.csv", max_bad_fraction=0.5)
    with pytest.raises(ValidationError, match="labels an interactions log"):
        DataConfig(**base, simulated=True)


# Bad input: each is an error naming the file, the line and the reason.


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("u1,a,1,view\nu1,zzz,2,view\n", 3, "unknown item id 'zzz'"),
        (
            "u1,a,1,view\nu1,b,2026-01-01T10:00:00,view\n",
            3,
            "timestamp '2026-01-01T10:00:00' is ISO-8601 but line 2 uses epoch seconds",
        ),
        ("u1,a,yesterday,view\n", 2, "timestamp 'yesterday' is not epoch seconds or an ISO-8601"),
        ("u1,a,1,view\nu1,b,2,view,extra\n", 3, "expected 4 fields, found 5"),
        ("u1,a,1,wishlist\n", 2, "unknown event 'wishlist'; events are view, click, cart, purchase"),
        (",a,1,view\n", 2, "user_id is empty"),
    ],
)
def test_bad_lines_name_file_line_and_reason(tiny_catalog_file, tmp_path, cache, body, line, reason):
    log = _write(tmp_path, "user_id,item_id,timestamp,event\n" + body)
    with pytest.raises(DataError) as err:
        load_catalog(_cfg(tiny_catalog_file, log))
    assert f"log.csv:{line}: {reason}" in str(err.value)
    assert "max_bad_fraction" in str(err.value)


def test_negative_rating_is_a_bad_line(tiny_catalog_file, tmp_path, cache):
    log = _write(tmp_path, "user_id,item_id,timestamp,rating\nu1,a,1,4\nu1,b,2,-1\n")
    with pytest.raises(DataError, match=r"log.csv:3: rating -1 is negative"):
        load_catalog(_cfg(tiny_catalog_file, log))


def test_missing_and_unknown_columns_fail_at_the_header(tiny_catalog_file, tmp_path, cache):
    log = _write(tmp_path, "user_id,item_id,rating\nu1,a,4\n")
    with pytest.raises(DataError, match=r"log.csv:1: missing required column\(s\) timestamp; found user_id"):
        load_catalog(_cfg(tiny_catalog_file, log))
    log = _write(tmp_path, "user_id,item_id,timestamp,score\nu1,a,4,1\n", "other.csv")
    with pytest.raises(DataError, match=r"other.csv:1: unknown column\(s\) score"):
        load_catalog(_cfg(tiny_catalog_file, log))


def test_duplicate_rows_are_dropped_and_counted(tiny_catalog_file, tmp_path, cache):
    log = _write(tmp_path, "user_id,item_id,timestamp,event\nu1,a,1,view\nu1,a,1,view\nu1,b,2,view\nu1,a,1,view\n")
    cfg = _cfg(tiny_catalog_file, log)
    assert len(load_catalog(cfg).interactions) == 2
    assert load_notices(cfg) == ["Dropped 2 duplicate line(s) of log.csv (first: line 3 repeats line 2)"]


def _ten_percent_malformed(tmp_path) -> object:
    rows = [f"u{n % 7},{'abcdefgh'[n % 8]},{n},view" for n in range(90)]
    for n in range(0, 100, 10):  # every tenth line is broken: 10 of 100
        rows.insert(n, "u1;a;1;view")
    return _write(tmp_path, "user_id,item_id,timestamp,event\n" + "\n".join(rows) + "\n")


def test_ten_percent_malformed_fails_by_default_with_the_count(tiny_catalog_file, tmp_path, cache):
    with pytest.raises(DataError) as err:
        load_catalog(_cfg(tiny_catalog_file, _ten_percent_malformed(tmp_path)))
    message = str(err.value)
    assert message.startswith("10 bad line(s) in ") and "log.csv:2: expected 4 fields, found 1" in message
    assert "(and 5 more)" in message


def test_ten_percent_malformed_is_skipped_with_a_notice_when_tolerated(tiny_catalog_file, tmp_path, cache):
    log = _ten_percent_malformed(tmp_path)
    with pytest.raises(DataError, match=r"10.0% of 100 lines, over max_bad_fraction = 0.05"):
        load_catalog(_cfg(tiny_catalog_file, log, max_bad_fraction=0.05))
    cfg = _cfg(tiny_catalog_file, log, max_bad_fraction=0.1)
    cat = load_catalog(cfg)
    assert len(cat.interactions) == len({(n % 7, n % 8) for n in range(90)})
    (notice,) = load_notices(cfg)
    assert notice.startswith("Skipped 10 of 100 lines of log.csv (10.0%, within max_bad_fraction = 0.1)")


def test_a_missing_file_is_named(tiny_catalog_file, tmp_path, cache):
    with pytest.raises(DataError, match=r"interactions file .*nope.csv does not exist"):
        load_catalog(_cfg(tiny_catalog_file, tmp_path / "nope.csv"))


def test_a_pipeline_learns_from_a_log_and_repeats_its_load_notices(tiny_catalog_file, tmp_path, cache):
    from genre.config import parse_config
    from genre.core.types import HistoryEvent, UserContext
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder, tiny_config_dict

    # Everyone who took the tent (a) also took the stove (c); the bag (b) only goes with the pan (e).
    pairs = [(f"u{n}", "a", "c") for n in range(6)] + [(f"v{n}", "b", "e") for n in range(6)]
    body = "".join(f"{u},{x},{n},click\n{u},{y},{n + 1},purchase\n" for n, (u, x, y) in enumerate(pairs))
    log = _write(tmp_path, "user_id,item_id,timestamp,event\n" + body + "u1;broken\n")
    cfg = tiny_config_dict(tiny_catalog_file, k=1)
    cfg["data"] |= {"interactions": str(log), "max_bad_fraction": 0.1}
    cfg["scorers"] = {"itemknn": {"component": "itemknn", "config": {"neighbors": 5}}}
    cfg["fusion"] = {"component": "weighted", "config": {"weights": {"itemknn": 1.0}}}
    pipe = Pipeline(parse_config(cfg), embedder_factory=lambda device: HashEmbedder())
    trace = pipe.run(UserContext(history=[HistoryEvent(item_id="a")]))
    assert [i.item_id for i in trace.items] == ["c"]
    assert any(n.startswith("Skipped 1 of 25 lines of log.csv") for n in trace.notices)
