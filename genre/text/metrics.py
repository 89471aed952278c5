"""Text metrics for generated reasons: diversity (distinct-n, unique sentences) and overlap (BLEU-4, ROUGE-L).

All metrics work on lowercased word tokens (runs of letters and digits, inner apostrophes kept,
punctuation dropped), so "Heat (1995)!" and "heat 1995" compare equal. They are small,
dependency-free implementations meant for comparing reasoners against each other on the same
texts, not for reproducing published numbers to the last digit.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bleu4", "corpus_bleu4", "distinct_n", "rouge_l", "unique_sentence_ratio"]

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MAX_ORDER = 4


def _tokens(text: str) -> list[str]:
    return [t.replace("’", "'") for t in _TOKEN.findall(text.lower())]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def distinct_n(texts: Sequence[str], n: int = 2) -> float:
    """Distinct n-grams over total n-grams across the corpus (Li et al., 2016); 0.0 when there are none.

    N-grams never cross text boundaries: each text is tokenized on its own.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1. Got {n}.")
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = _ngrams(_tokens(text), n)
        total += sum(grams.values())
        seen.update(grams)
    return len(seen) / total if total else 0.0


def unique_sentence_ratio(texts: Sequence[str]) -> float:
    """Distinct texts over the number of texts, after lowercasing and dropping punctuation; 0.0 when empty."""
    if not texts:
        return 0.0
    return len({" ".join(_tokens(t)) for t in texts}) / len(texts)


def _bleu_stats(candidate: list[str], references: list[list[str]]) -> tuple[list[int], list[int], int, int]:
    """Clipped n-gram matches and totals for orders 1..4, candidate length, closest reference length."""
    matches: list[int] = []
    totals: list[int] = []
    for n in range(1, _MAX_ORDER + 1):
        cand = _ngrams(candidate, n)
        # Clipping: an n-gram counts at most as often as it appears in any single reference.
        max_ref: Counter[tuple[str, ...]] = Counter()
        for ref in references:
            max_ref |= _ngrams(ref, n)
        matches.append(sum(min(count, max_ref[g]) for g, count in cand.items()))
        totals.append(sum(cand.values()))
    c = len(candidate)
    # The reference length closest to the candidate's; ties go to the shorter one (as NLTK and Papineni et al.).
    r = min((len(ref) for ref in references), key=lambda length: (abs(length - c), length))
    return matches, totals, c, r


def _bleu_from_stats(matches: list[int], totals: list[int], c: int, r: int) -> float:
    """Geometric mean of precisions times the brevity penalty, with add-one smoothing for n > 1.

    Smoothing is Lin & Och (2004), NLTK's ``method2``: p_n = (m_n + 1) / (t_n + 1) for n >= 2,
    while unigram precision stays unsmoothed, so a candidate sharing no word scores 0. Unlike NLTK,
    an order with no candidate n-grams (a candidate under 4 words) gets (0 + 1) / (0 + 1) = 1, so an
    identical sentence always scores 1.0.
    """
    if c == 0 or matches[0] == 0:
        return 0.0
    log_p = math.log(matches[0] / totals[0])
    for m, t in zip(matches[1:], totals[1:], strict=True):
        log_p += math.log((m + 1) / (t + 1))
    brevity = 1.0 if c > r else math.exp(1.0 - r / c)
    return brevity * math.exp(log_p / _MAX_ORDER)


def _check_references(references: Sequence[str]) -> list[list[str]]:
    if isinstance(references, str):
        raise TypeError("references must be a list of strings, not a single string")
    if not references:
        raise ValueError("BLEU needs at least one reference. Got none.")
    return [_tokens(r) for r in references]


def bleu4(candidate: str, references: Sequence[str]) -> float:
    """Sentence BLEU-4: uniform weights over 1- to 4-grams, clipped counts, brevity penalty, smoothing 2."""
    matches, totals, c, r = _bleu_stats(_tokens(candidate), _check_references(references))
    return _bleu_from_stats(matches, totals, c, r)


def corpus_bleu4(candidates: Sequence[str], references_list: Sequence[Sequence[str]]) -> float:
    """Corpus BLEU-4: n-gram matches, totals and lengths summed over all pairs before combining.

    ``references_list[i]`` holds the references of ``candidates[i]``. The same smoothing as
    :func:`bleu4` is applied to the corpus-level counts. 0.0 for an empty corpus.
    """
    if len(candidates) != len(references_list):
        raise ValueError(
            f"candidates and references_list must have the same length. Got {len(candidates)} and "
            f"{len(references_list)}."
        )
    matches = [0] * _MAX_ORDER
    totals = [0] * _MAX_ORDER
    c_sum = r_sum = 0
    for candidate, references in zip(candidates, references_list, strict=True):
        m, t, c, r = _bleu_stats(_tokens(candidate), _check_references(references))
        matches = [a + b for a, b in zip(matches, m, strict=True)]
        totals = [a + b for a, b in zip(totals, t, strict=True)]
        c_sum += c
        r_sum += r
    return _bleu_from_stats(matches, totals, c_sum, r_sum)


def _lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Longest common subsequence length, O(len(a) * len(b)) time and O(len(b)) memory."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge_l(candidate: str, reference: str | Sequence[str]) -> float:
    """ROUGE-L F-measure (beta = 1) from the longest common subsequence; the best over several references.

    P = LCS / len(candidate), R = LCS / len(reference), F = 2PR / (P + R); 0.0 when nothing is shared.
    """
    refs = [reference] if isinstance(reference, str) else list(reference)
    if not refs:
        raise ValueError("ROUGE-L needs at least one reference. Got none.")
    cand = _tokens(candidate)
    best = 0.0
    for ref_text in refs:
        ref = _tokens(ref_text)
        lcs = _lcs_length(cand, ref)
        if lcs == 0:
            continue
        precision, recall = lcs / len(cand), lcs / len(ref)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
