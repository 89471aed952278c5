"""Integration: products and news evaluated end to end on their simulated logs, with the real embedder.

The figures only show that every component trains and ranks from these logs; the logs are simulated
(genre/data/simulate.py), so no figure here is evidence about real users.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from genre import Pipeline, load_config
from genre.data import load_profiles
from genre.data.profiles import interactions_to_context, profile_to_context
from genre.evaluation.harness import evaluate
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

COLLABORATIVE = ("itemknn", "ease", "bpr", "sasrec")


@pytest.mark.parametrize(("domain", "protocol"), [("products", "T"), ("news", "T"), ("news", "R")])
def test_every_scorer_and_the_learned_fusion_evaluate_on_the_log(domain, protocol):
    cfg = load_config(ROOT / "configs" / f"{domain}-logs.toml")
    report = evaluate([cfg], protocol=protocol, intent_head=protocol == "T")
    rows = {r.name: r for r in report.rows}
    assert set(rows) == {*cfg.scorers, cfg.name}
    assert report.users == 360 and report.train_interactions > report.test_interactions > 0
    popularity = rows["popularity"].metrics["ndcg@10"]
    for name in COLLABORATIVE:  # they learned something from the log, beyond what everyone clicks
        assert rows[name].metrics["ndcg@10"] > popularity, (name, rows[name].metrics)
    best = max(rows[n].metrics["ndcg@10"] for n in cfg.scorers)
    fused = rows[cfg.name].metrics["ndcg@10"]
    assert fused > 0.8 * best, (fused, best)  # the learned blend keeps most of the best scorer's quality
    assert rows[cfg.name].detail["fusion"] == "learned"
    if protocol == "T":  # the trained intent head learns the next item's category from the log
        (head,) = report.extras["intent_accuracy"]
        assert head["top1"] > head["majority_top1"] and head["top3"] > head["majority_top3"]


@pytest.mark.parametrize("domain", ["products", "news"])
def test_a_log_user_and_an_example_profile_get_explained_recommendations(domain):
    cfg = load_config(ROOT / "configs" / f"{domain}-logs.toml")
    pipe = Pipeline(cfg)
    user = f"sim-{next(iter(load_profiles(cfg.data)))}-001"
    trace = pipe.run(interactions_to_context(pipe.catalog, user))
    assert len(trace.items) == cfg.k
    for item in trace.items:  # contributions explain every fused score
        assert set(item.contributions) >= set(COLLABORATIVE)
        assert sum(item.contributions.values()) == pytest.approx(item.score, abs=1e-6)
    profile = next(iter(load_profiles(cfg.data).values()))
    assert len(pipe.run(profile_to_context(profile, pipe.catalog)).items) == cfg.k


def _genre(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genre", *args], capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_cli_evaluate_prints_the_simulated_label_beside_the_figures():
    proc = _genre("evaluate", "--config", str(ROOT / "configs" / "news-logs.toml"), "--users", "50")
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()[:2]
    assert first.startswith("Simulated behaviour log") and "not real-world evidence" in first
    assert "protocol T · 50 test users" in second
    proc = _genre("evaluate", "--config", str(ROOT / "configs" / "news-logs.toml"), "--users", "50", "--format", "json")
    assert json.loads(proc.stdout)["users"] == 50 and "Simulated behaviour log" in proc.stderr


def test_cli_names_the_file_line_and_reason_of_a_bad_log(tmp_path):
    log = tmp_path / "log.csv"
    rows = (ROOT / "sample_data" / "news" / "simulated_log.csv").read_text().splitlines()[:40]
    rows[7] = rows[7].replace("news-", "gone-")
    log.write_text("\n".join(rows) + "\n")
    cfg = tmp_path / "news-bad.toml"
    text = (ROOT / "configs" / "news-logs.toml").read_text()
    cfg.write_text(text.replace('"sample_data/news/simulated_log.csv"', json.dumps(str(log))))
    proc = _genre("evaluate", "--config", str(cfg))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{log}:8: unknown item id 'gone-" in proc.stderr
