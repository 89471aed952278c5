"""Offline evaluation: train/test splits and top-k ranking metrics."""

from genre.data.splits import Split, random_split, read_split_dir, temporal_split
from genre.metrics import (
    RankingMetrics,
    catalog_coverage,
    evaluate_rankings,
    ndcg_at_k,
    recall_at_k,
    reciprocal_rank,
)

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
