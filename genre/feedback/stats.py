"""The statistics of reviews: a proportion's confidence interval, win rates, and agreement between reviewers.

Pure functions on counts and labels (numpy only). Each one documents how it treats the edge cases
(no data, every label the same), so a page can say why a number is missing instead of showing NaN.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["cohen_kappa", "fleiss_kappa", "wilson_interval", "win_rate", "win_rate_interval"]

Z95 = 1.96
"""The normal quantile of a two-sided 95% interval (1.95996..., rounded as usually quoted)."""


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n`` (95% with the default ``z``).

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or ``n`` successes.
    ``successes`` may be fractional (a tie counted as half a win). With ``n == 0`` nothing is known:
    the interval is (0, 1).
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n; got successes={successes}, n={n}")
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def win_rate(wins: int, losses: int, ties: int) -> float | None:
    """Share of comparisons won, a tie counting as half a win for each side; None with no comparisons.

    Counting ties as halves keeps ``win_rate(a) + win_rate(b) == 1`` for the two arms of a pair, and
    a pair judged all ties reads as 0.5 (no preference), not as 0 wins.
    """
    if min(wins, losses, ties) < 0:
        raise ValueError(f"counts cannot be negative; got wins={wins}, losses={losses}, ties={ties}")
    n = wins + losses + ties
    return None if n == 0 else (wins + 0.5 * ties) / n


def win_rate_interval(wins: int, losses: int, ties: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval of :func:`win_rate` (ties as half a win; (0, 1) with no comparisons)."""
    return wilson_interval(wins + 0.5 * ties, wins + losses + ties, z)


def cohen_kappa(labels_1: Sequence[Hashable], labels_2: Sequence[Hashable]) -> float | None:
    """Cohen's kappa between two raters who labelled the same subjects (``labels_1[i]`` vs ``labels_2[i]``).

    ``(p_o - p_e) / (1 - p_e)``: observed agreement corrected for the agreement expected from each
    rater's own label frequencies. None when ``p_e == 1`` (both raters used one and the same label
    throughout: agreement is certain by chance, and kappa is 0/0).
    """
    if len(labels_1) != len(labels_2):
        raise ValueError(f"the two raters labelled {len(labels_1)} and {len(labels_2)} subjects; need the same")
    n = len(labels_1)
    if n == 0:
        raise ValueError("cohen_kappa needs at least one subject labelled by both raters")
    cats = sorted(set(labels_1) | set(labels_2), key=repr)
    p_o = sum(x == y for x, y in zip(labels_1, labels_2, strict=True)) / n
    p_e = sum((list(labels_1).count(c) / n) * (list(labels_2).count(c) / n) for c in cats)
    if math.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1 - p_e)


def fleiss_kappa(counts: Sequence[Sequence[float]]) -> float | None:
    """Fleiss' kappa from a subjects x categories table of how many raters chose each category.

    Each row is one subject and must have at least 2 ratings. Rows may have different totals: the
    per-subject agreement is ``sum n_ij (n_ij - 1) / (n_i (n_i - 1))`` with that row's ``n_i``, and the
    category shares are over all ratings (with equal totals this is exactly Fleiss, 1971). None when
    the expected agreement is 1 (every rating in one category).
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError("fleiss_kappa needs a non-empty table: one row per subject, one column per category")
    if (table < 0).any():
        raise ValueError("fleiss_kappa: counts cannot be negative")
    n_i = table.sum(axis=1)
    if (n_i < 2).any():
        bad = int(np.argmax(n_i < 2))
        raise ValueError(f"fleiss_kappa: subject {bad} has {n_i[bad]:g} ratings; every subject needs at least 2")
    p_i = (table * (table - 1)).sum(axis=1) / (n_i * (n_i - 1))
    p_bar = float(p_i.mean())
    p_j = table.sum(axis=0) / table.sum()
    p_e = float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1 - p_e)
