"""The CLI through subprocess: the documented happy paths and every bad input of the brief."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from genre.core.artifacts import MANIFEST, ArtifactStore
from tests.conftest import ROOT

pytestmark = pytest.mark.integration
MOVIES = str(ROOT / "configs" / "movies.toml")
PRODUCTS = str(ROOT / "configs" / "products.toml")


def genre(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genre", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def assert_clean_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_recommend_user_1_json_is_a_full_trace():
    proc = genre("recommend", "--config", MOVIES, "--user", "1", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    trace = json.loads(proc.stdout)
    assert trace["config_name"] == "movies" and trace["device"] in ("cpu", "cuda")
    assert len(trace["items"]) == 10
    for item in trace["items"]:
        assert set(item["scores"]) == {"popularity", "content", "itemknn", "ease", "ease-recent", "sasrec"}
        assert item["contributions"] and item["reason"]["text"]
    assert {t["stage"] for t in trace["timings"]} >= {"context", "intent", "candidates", "scorers", "fusion", "explain"}


def test_recommend_history_and_profile_table():
    proc = genre(
        "recommend",
        "--config",
        MOVIES,
        "--history",
        "Toy Story (1995); the lion king",
        "--profile",
        "funny",
        "--k",
        "5",
    )
    assert proc.returncode == 0, proc.stderr
    rows = [ln for ln in proc.stdout.splitlines() if ln[:3].strip().isdigit()]
    assert len(rows) == 5
    assert "Toy Story (1995)" in proc.stdout or "The Lion King (1994)" in proc.stdout  # named in reasons


def test_products_constraints_from_flags():
    proc = genre(
        "recommend", "--config", PRODUCTS, "--user", "coffee-enthusiast", "--price-max", "40", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    assert items and all(i["attributes"]["price"] <= 40 for i in items)


def test_profile_file_text(tmp_path):
    f = tmp_path / "me.txt"
    f.write_text("Quiet noise-cancelling headphones for long flights.")
    proc = genre("recommend", "--config", PRODUCTS, "--profile-file", str(f), "--k", "3", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert any(i["categories"] == ["Audio"] for i in json.loads(proc.stdout)["items"])


def test_cold_start_is_labelled():
    proc = genre("recommend", "--config", MOVIES, "--k", "3")
    assert proc.returncode == 0, proc.stderr
    assert "Cold start" in proc.stdout and "popularity" in proc.stdout


def test_components_and_check_config():
    proc = genre("components")
    assert proc.returncode == 0
    for stage in ("[context]", "[intent]", "[candidates]", "[scorers]", "[fusion]", "[explain]"):
        assert stage in proc.stdout
    assert "half_life_days" in proc.stdout and "normalization" in proc.stdout
    data = json.loads(genre("components", "--format", "json").stdout)
    assert {r["name"] for r in data["scorers"]} >= {"popularity", "content"}
    ok = genre("check-config", MOVIES)
    assert ok.returncode == 0 and "ok:" in ok.stdout


def test_bad_config_key(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text((ROOT / "configs" / "movies.toml").read_text().replace("[candidates]", "[candidates]\nmode = 1"))
    assert_clean_error(genre("check-config", str(cfg)), "unknown key 'mode'", "valid keys: component, config")


def test_unknown_component(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text((ROOT / "configs" / "movies.toml").read_text().replace('"content"\nconfig', '"contnet"\nconfig'))
    assert_clean_error(
        genre("recommend", "--config", str(cfg), "--user", "1"),
        "'contnet'",
        "bpr, content, ease, intent-match, itemknn",
    )


def test_malformed_toml(tmp_path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("name = [\n")
    assert_clean_error(genre("recommend", "--config", str(cfg)), "malformed TOML")


def test_unknown_user():
    assert_clean_error(genre("recommend", "--config", MOVIES, "--user", "99999"), "'99999'", "1..943")


def test_unknown_titles_suggest_nearest():
    proc = genre("recommend", "--config", MOVIES, "--history", "Star Wars (1977); Toy Stroy")
    assert_clean_error(proc, "'Toy Stroy'", "did you mean", "Toy Story (1995)")


@pytest.mark.parametrize(("k", "fragment"), [("0", "positive"), ("-3", "positive"), ("5000", "larger than")])
def test_bad_k(k, fragment):
    assert_clean_error(genre("recommend", "--config", MOVIES, "--user", "1", "--k", k), fragment)


def test_unreadable_profile_file(tmp_path):
    assert_clean_error(
        genre("recommend", "--config", MOVIES, "--profile-file", str(tmp_path / "none.json")),
        "cannot read profile file",
    )
    bad = tmp_path / "p.json"
    bad.write_text('{"profile": "x", "history": [{"title": "Nope Movie"}]}')
    assert_clean_error(genre("recommend", "--config", MOVIES, "--profile-file", str(bad)), "'Nope Movie'")


def test_bad_constraints():
    assert_clean_error(
        genre("recommend", "--config", PRODUCTS, "--user", "trail-runner", "--category", "Garden"), "unknown categories"
    )
    assert_clean_error(genre("recommend", "--config", PRODUCTS, "--price-min", "50", "--price-max", "10"), "price_min")


def test_readme_profile_example_runs(tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```json\n", 1)[1].split("```", 1)[0]
    f = tmp_path / "readme_profile.json"
    f.write_text(block)
    proc = genre("recommend", "--config", PRODUCTS, "--profile-file", str(f), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    items = json.loads(proc.stdout)["items"]
    assert items and all(i["categories"] == ["Audio"] and i["attributes"]["price"] <= 300 for i in items)


FAST = str(ROOT / "tests" / "fixtures" / "movies-fast.toml")


def test_evaluate_json_rows_for_scorers_and_fusion():
    proc = genre("evaluate", "--config", FAST, "--users", "80", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["protocol"] == "T" and report["users"] == 80
    rows = {r["name"]: r for r in report["rows"]}
    assert set(rows) == {"popularity", "ease", "movies-fast"}
    assert rows["ease"]["metrics"]["ndcg@10"] > rows["popularity"]["metrics"]["ndcg@10"]
    naive = [v for r in rows.values() for k, v in r["metrics"].items() if k != "ips-ndcg@10"]
    assert all(0 <= v <= 1 for v in naive)
    ease = rows["ease"]["metrics"]
    # IPS up-weights hits on rarer items, so it lies above naive NDCG; SNIPS is back on the naive scale.
    assert ease["ips-ndcg@10"] > ease["ndcg@10"] and 0 < ease["snips-ndcg@10"] <= 1
    assert rows["popularity"]["metrics"]["gini@10"] > ease["gini@10"]


def test_evaluate_table_protocol_r():
    proc = genre("evaluate", "--config", FAST, "--users", "50", "--protocol", "R")
    assert proc.returncode == 0, proc.stderr
    assert "protocol R" in proc.stdout and "| ease | scorer |" in proc.stdout
    assert "ndcg@10-tail" in proc.stdout and "snips-ndcg@10" in proc.stdout and "clipped at 0.01" in proc.stdout


def test_evaluate_catalog_without_interactions():
    assert_clean_error(genre("evaluate", "--config", PRODUCTS), "no user interactions")


def _write_split(folder, train_rows, test_rows):
    folder.mkdir()
    (folder / "train.csv").write_text("user_id,item_id,timestamp\n" + "".join(f"{r}\n" for r in train_rows))
    (folder / "test.csv").write_text("user_id,item_id,timestamp\n" + "".join(f"{r}\n" for r in test_rows))


def test_evaluate_own_split_dir(tmp_path):
    good = tmp_path / "good"
    train = [f"u{u},{i},{1000 + i}" for u in range(12) for i in range(1 + u, 30 + u)]
    test = [f"u{u},{40 + u},5000" for u in range(12)]
    _write_split(good, train, test)
    proc = genre("evaluate", "--config", FAST, "--split-dir", str(good), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["users"] == 12


def test_evaluate_split_dir_rejections(tmp_path):
    overlap = tmp_path / "overlap"
    _write_split(overlap, ["u1,1,100", "u1,2,200"], ["u1,2,300"])
    assert_clean_error(genre("evaluate", "--config", FAST, "--split-dir", str(overlap)), "test.csv:2")
    unknown = tmp_path / "unknown"
    _write_split(unknown, ["u1,1,100", "u1,99999,200"], ["u1,3,300"])
    assert_clean_error(genre("evaluate", "--config", FAST, "--split-dir", str(unknown)), "train.csv:3", "99999")
    missing = tmp_path / "missing"
    missing.mkdir()
    (missing / "train.csv").write_text("user,item\nu1,1\n")
    (missing / "test.csv").write_text("user_id,item_id,timestamp\nu1,3,300\n")
    assert_clean_error(genre("evaluate", "--config", FAST, "--split-dir", str(missing)), "train.csv", "user_id")


def test_train_command_reports_components():
    proc = genre("train", "--config", FAST)
    assert proc.returncode == 0, proc.stderr
    assert "scorers/ease" in proc.stdout and "trained movies-fast" in proc.stdout


def test_evaluate_explanations_template_on_products():
    proc = genre("evaluate", "--config", PRODUCTS, "--explanations", "--generators", "template", "--users", "6")
    assert proc.returncode == 0, proc.stderr
    assert "| template | 30 | 100.0% | 0.0% |" in proc.stdout
    assert "Attribution fidelity: removing the top-attributed history item lowers" in proc.stdout


def test_evaluate_explanations_unknown_generator():
    assert_clean_error(
        genre("evaluate", "--config", PRODUCTS, "--explanations", "--generators", "gpt9"),
        "unknown explain component 'gpt9'",
        "local-llm",
    )


# ---- the artifact cache: `cache list`, `cache clear`, and corrupt state on a real config ---------------


def genre_in(cache_dir, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    """The CLI with its cache in ``cache_dir`` (never the real ~/.cache/genre)."""
    env = {**os.environ, "GENRE_CACHE_DIR": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "genre", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        env=env,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def filled_cache(tmp_path):
    """A cache with a valid bpr, a truncated ease, and item embeddings saved ten days ago."""
    store = ArtifactStore(tmp_path / "cache" / "artifacts")
    bpr = store.artifact("data-a", "bpr", {"dims": 4}, 1)
    bpr.save({"factors.safetensors": {"users": np.ones((2, 4), dtype=np.float32)}, "meta.json": {"loss": [1.0]}})
    ease = store.artifact("data-a", "ease", {"l2": 1.0}, 1)
    ease.save({"weights.npz": {"weights": np.eye(5)}})
    (ease.folder / "weights.npz").write_bytes((ease.folder / "weights.npz").read_bytes()[:50])
    old = store.artifact("data-b", "embeddings", {"embedder": "x"}, 1)
    old.save({"vectors.npz": {"vectors": np.zeros((3, 2))}})
    manifest = json.loads((old.folder / MANIFEST).read_text())
    manifest["created"] = (datetime.now(UTC) - timedelta(days=10)).isoformat()
    (old.folder / MANIFEST).write_text(json.dumps(manifest))
    return tmp_path / "cache", {"bpr": bpr.folder, "ease": ease.folder, "embeddings": old.folder}


def test_cache_list_shows_each_artifact_and_whether_it_is_usable(filled_cache):
    cache, folders = filled_cache
    proc = genre_in(cache, "cache", "list")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"{cache / 'artifacts'}: 3 artifacts") and "1 not usable" in lines[0]
    rows = {ln.split()[0]: ln.split() for ln in lines[2:] if ln.split()[0] in folders}
    assert rows["bpr"][1:3] == ["v1", "valid"] and rows["bpr"][-1] == f"data-a/{folders['bpr'].name}"
    assert rows["ease"][2] == "corrupt" and rows["embeddings"][-3:-1] == ["10.0", "d"]
    assert "weights.npz is 50 bytes, expected" in proc.stdout

    data = json.loads(genre_in(cache, "cache", "list", "--format", "json").stdout)
    by_component = {r["component"]: r for r in data["artifacts"]}
    assert {c: r["status"] for c, r in by_component.items()} == {
        "bpr": "valid",
        "ease": "corrupt",
        "embeddings": "valid",
    }
    assert by_component["embeddings"]["age_days"] == pytest.approx(10.0, abs=0.01)
    assert by_component["bpr"]["bytes"] == sum(p.stat().st_size for p in folders["bpr"].iterdir())
    only = json.loads(genre_in(cache, "cache", "list", "--component", "ease", "--format", "json").stdout)
    assert [r["component"] for r in only["artifacts"]] == ["ease"]


def test_cache_clear_by_age_component_and_all(filled_cache):
    cache, folders = filled_cache
    refused = genre_in(cache, "cache", "clear", "--component", "bpr")  # no terminal to ask on, no --yes
    assert_clean_error(refused, "would delete 1 artifact of bpr", "--yes")
    assert folders["bpr"].is_dir()

    old = genre_in(cache, "cache", "clear", "--older-than", "5", "--yes")
    assert old.returncode == 0, old.stderr
    assert old.stdout.startswith("deleted 1 artifact older than 5 days")
    assert not folders["embeddings"].exists() and folders["bpr"].is_dir() and folders["ease"].is_dir()

    ease = genre_in(cache, "cache", "clear", "--component", "ease", "--yes")
    assert ease.returncode == 0 and "deleted 1 artifact of ease" in ease.stdout
    assert not folders["ease"].exists() and folders["bpr"].is_dir()
    none = genre_in(cache, "cache", "clear", "--component", "sasrec", "--yes")
    assert none.returncode == 0 and none.stdout.startswith("nothing to clear: no artifacts of sasrec")

    everything = genre_in(cache, "cache", "clear", "--all", "--yes")
    assert everything.returncode == 0 and "deleted 1 artifact " in everything.stdout
    assert not folders["bpr"].exists()
    assert "0 artifacts" in genre_in(cache, "cache", "list").stdout


def test_cache_clear_rejections(tmp_path):
    cache = tmp_path / "cache"
    assert_clean_error(genre_in(cache, "cache", "clear"), "--all, --component NAME, or --older-than DAYS")
    assert_clean_error(
        genre_in(cache, "cache", "clear", "--component", "bprr", "--yes"),
        "unknown component 'bprr'",
        "bpr, ease, embeddings, itemknn, learned-fusion, ltr-fusion, pda, sasrec, sasrec-crossmodal, sasrec-multitask, trained-head",
    )
    assert_clean_error(genre_in(cache, "cache", "clear", "--all", "--component", "bpr"), "--all")
    assert_clean_error(genre_in(cache, "cache", "clear", "--older-than", "-1", "--yes"), "--older-than", "-1")


@pytest.mark.timeout(3000)  # retrains every movies component (SASRec twice): minutes on 2 busy cores
def test_truncated_artifacts_are_retrained_with_a_notice(tmp_path):
    """The issue: a full disk or a killed write truncates the cache; recommend must still answer."""
    cache = tmp_path / "cache"
    real = Path.home() / ".cache" / "genre" / "artifacts"
    if not os.environ.get("GENRE_CACHE_DIR") and real.is_dir():
        # A copy of the user's trained state spares the first training; the real cache is only read.
        shutil.copytree(real, cache / "artifacts", ignore=shutil.ignore_patterns("*.tmp"))
    prepared = genre_in(cache, "prepare", "--config", MOVIES, "--skip-generator", timeout=1500)
    assert prepared.returncode == 0, prepared.stderr
    files = [p for p in (cache / "artifacts").rglob("*") if p.is_file()]
    components = {json.loads(p.read_text())["component"] for p in files if p.name == MANIFEST}
    assert components >= {"embeddings", "itemknn", "ease", "sasrec", "learned-fusion"}
    for path in files:
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])

    proc = genre_in(cache, "recommend", "--config", MOVIES, "--user", "1", timeout=1500)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    notes = [ln for ln in proc.stdout.splitlines() if ln.startswith("note: ") and "was unreadable" in ln]
    assert {"Trained state of sasrec", "Trained state of learned-fusion", "Item embeddings of movielens-100k"} <= {
        n.removeprefix("note: ").split(" at ")[0] for n in notes
    }
    assert all(n.endswith(("; retrained.", "; recomputed.")) for n in notes)
    assert len([ln for ln in proc.stdout.splitlines() if ln[:3].strip().isdigit()]) == 10
    # Everything found corrupt was retrained and saved whole again.
    retrained = {Path(n.split(" at ", 1)[1].split(" was unreadable", 1)[0]) for n in notes}
    listing = json.loads(genre_in(cache, "cache", "list", "--format", "json").stdout)
    status = {Path(r["path"]): r["status"] for r in listing["artifacts"]}
    assert retrained and all(status.get(folder) == "valid" for folder in retrained), status
