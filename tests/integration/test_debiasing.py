"""PDA against BPR on the real MovieLens-100K split: deconfounding moves the lists from head to tail items."""

from __future__ import annotations

import pytest

from genre.config import parse_config
from genre.evaluation.harness import evaluate

pytestmark = pytest.mark.integration

MF = {"dims": 32, "epochs": 15, "l2": 0.005}


def test_pda_reaches_more_tail_items_than_bpr_on_movielens(cache):
    cfg = parse_config(
        {
            "name": "mf",
            "device": "cpu",
            "data": {"loader": "movielens-100k"},
            "scorers": {"bpr": {"component": "bpr", "config": MF}, "pda": {"component": "pda", "config": {**MF, "gamma": 0.15}}},
            "fusion": {"component": "weighted"},
        }
    )  # fmt: skip
    report = evaluate([cfg], protocol="R", max_users=300)
    rows = {r.name: r.metrics for r in report.rows}
    bpr, pda = rows["bpr"], rows["pda"]
    assert pda["ndcg@10-tail"] > 1.5 * bpr["ndcg@10-tail"]
    assert pda["coverage@10"] > 1.2 * bpr["coverage@10"] and pda["gini@10"] < bpr["gini@10"]
    assert pda["ndcg@10-head"] < bpr["ndcg@10-head"]  # popularity no longer carries head items up
    assert pda["ndcg@10"] > 0.5 * bpr["ndcg@10"]  # still a recommender, not a random list
