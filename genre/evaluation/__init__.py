"""Offline evaluation: train/test splits and top-k ranking metrics."""

from genre.evaluation.metrics import (
    RankingMetrics,
    catalog_coverage,
    evaluate_rankings,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)
from genre.evaluation.splits import Split, random_split, read_split_dir, temporal_split

__all__ = [
    "RankingMetrics",
    "Split",
    "catalog_coverage",
    "evaluate_rankings",
    "ndcg_at_k",
    "random_split",
    "read_split_dir",
    "recall_at_k",
    "reciprocal_rank",
    "temporal_split",
]
