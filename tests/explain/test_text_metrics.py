"""Text metrics against hand-computed values (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import pytest

from genre.text.metrics import bleu4, corpus_bleu4, distinct_n, rouge_l, unique_sentence_ratio

# ---- distinct_n -------------------------------------------------------------------------------


def test_distinct_2_counts_bigrams_within_each_text():
    # bigrams: (a b) (b c) | (a b) (b d) -> 3 distinct / 4 total; none spans the two texts
    assert distinct_n(["a b c", "a b d"], n=2) == pytest.approx(3 / 4)


def test_distinct_1_is_case_and_punctuation_insensitive():
    # unigrams: a b c | A, b! d -> a b c a b d -> 4 distinct / 6 total
    assert distinct_n(["a b c", "A, b! d"], n=1) == pytest.approx(4 / 6)


def test_distinct_n_edge_cases():
    assert distinct_n([]) == 0.0
    assert distinct_n(["one"], n=2) == 0.0  # a one-word text has no bigram
    with pytest.raises(ValueError, match="Got 0"):
        distinct_n(["a b"], n=0)


# ---- unique_sentence_ratio --------------------------------------------------------------------


def test_unique_sentence_ratio_normalizes_case_and_punctuation():
    # "Hello, world!" and "hello world" are one sentence; "bye" another -> 2 distinct / 3 texts
    assert unique_sentence_ratio(["Hello, world!", "hello world", "bye"]) == pytest.approx(2 / 3)
    assert unique_sentence_ratio(["a", "b"]) == 1.0
    assert unique_sentence_ratio([]) == 0.0


# ---- bleu4 ------------------------------------------------------------------------------------


def test_bleu_of_identical_sentence_is_one():
    assert bleu4("Because you liked Heat, try Casino.", ["because you liked heat try casino"]) == pytest.approx(1.0)
    # Shorter than 4 words: the empty 3- and 4-gram orders smooth to (0+1)/(0+1) = 1.
    assert bleu4("the cat sat", ["the cat sat"]) == pytest.approx(1.0)


def test_bleu_of_disjoint_sentence_is_zero():
    assert bleu4("alpha beta gamma delta", ["one two three four"]) == 0.0


def test_bleu_hand_computed_with_smoothing():
    # candidate: the cat sat on the mat (6)   reference: the cat is on the mat (6)
    # p1 = 5/6                (the x2, cat, on, mat; 'sat' unmatched; unsmoothed)
    # p2 = (3+1)/(5+1) = 4/6  (the cat, on the, the mat of 5 bigrams)
    # p3 = (1+1)/(4+1) = 2/5  (on the mat of 4 trigrams)
    # p4 = (0+1)/(3+1) = 1/4  (no 4-gram of 3)
    # BP = 1 (c = r = 6)  ->  BLEU = (5/6 * 4/6 * 2/5 * 1/4) ** (1/4) = (1/18) ** 0.25
    assert bleu4("the cat sat on the mat", ["the cat is on the mat"]) == pytest.approx((1 / 18) ** 0.25)
    assert pytest.approx(0.48549, abs=1e-5) == (1 / 18) ** 0.25


def test_bleu_clips_repeated_ngrams():
    # candidate: the the the the   reference: the cat
    # p1 = 1/4 ('the' clipped to its single reference count); p2 = (0+1)/(3+1) = 1/4;
    # p3 = (0+1)/(2+1) = 1/3; p4 = (0+1)/(1+1) = 1/2; c = 4 > r = 2 -> BP = 1
    # BLEU = (1/4 * 1/4 * 1/3 * 1/2) ** (1/4) = (1/96) ** 0.25
    assert bleu4("the the the the", ["the cat"]) == pytest.approx((1 / 96) ** 0.25)


def test_bleu_brevity_penalty():
    # candidate: the cat (2)   reference: the cat sat on the mat (6)
    # p1 = 2/2, p2 = (1+1)/(1+1), p3 = p4 = (0+1)/(0+1) -> all 1; BP = exp(1 - 6/2) = exp(-2)
    assert bleu4("the cat", ["the cat sat on the mat"]) == pytest.approx(math.exp(-2))


def test_bleu_multiple_references_clip_per_reference_and_use_closest_length():
    # candidate: a b c d (4); references of length 6 and 3 -> closest r = 3 < c, so BP = 1.
    # Every candidate n-gram occurs in 'a b c d e f': p1 = 4/4, p2 = 4/4, p3 = 3/3, p4 = 2/2 -> 1.0
    assert bleu4("a b c d", ["a b c d e f", "a b c"]) == pytest.approx(1.0)


def test_bleu_rejects_missing_references():
    with pytest.raises(ValueError, match="at least one reference"):
        bleu4("a b", [])
    with pytest.raises(TypeError, match="list of strings"):
        bleu4("a b", "a b")  # type: ignore[arg-type]


# ---- corpus_bleu4 -----------------------------------------------------------------------------


def test_corpus_bleu_sums_counts_before_combining():
    # pair 1: "the cat sat on the mat" vs "the cat is on the mat": m = 5,3,1,0  t = 6,5,4,3  c = r = 6
    # pair 2: "the cat" vs "the cat sat on the mat":               m = 2,1,0,0  t = 2,1,0,0  c = 2, r = 6
    # sums: p1 = 7/8, p2 = (4+1)/(6+1) = 5/7, p3 = (1+1)/(4+1) = 2/5, p4 = (0+1)/(3+1) = 1/4
    # product = 7/8 * 5/7 * 2/5 * 1/4 = 1/16; c = 8, r = 12 -> BP = exp(1 - 12/8) = exp(-0.5)
    score = corpus_bleu4(
        ["the cat sat on the mat", "the cat"],
        [["the cat is on the mat"], ["the cat sat on the mat"]],
    )
    assert score == pytest.approx(math.exp(-0.5) * (1 / 16) ** 0.25)


def test_corpus_bleu_edge_cases():
    assert corpus_bleu4(["a b c d", "e f g h"], [["a b c d"], ["e f g h"]]) == pytest.approx(1.0)
    assert corpus_bleu4([], []) == 0.0
    with pytest.raises(ValueError, match="same length"):
        corpus_bleu4(["a"], [])


# ---- rouge_l ----------------------------------------------------------------------------------


def test_rouge_l_hand_computed():
    # LCS("the cat sat", "the cat on the mat sat") = "the cat sat" = 3
    # P = 3/3 = 1, R = 3/6 = 0.5, F = 2 * 1 * 0.5 / (1 + 0.5) = 2/3
    assert rouge_l("the cat sat", "the cat on the mat sat") == pytest.approx(2 / 3)


def test_rouge_l_takes_the_best_reference():
    assert rouge_l("the cat sat", ["a dog barked", "the cat on the mat sat"]) == pytest.approx(2 / 3)
    assert rouge_l("The cat sat.", ["a dog barked", "the cat sat"]) == pytest.approx(1.0)


def test_rouge_l_edge_cases():
    assert rouge_l("alpha beta", "gamma delta") == 0.0
    assert rouge_l("", "gamma delta") == 0.0
    with pytest.raises(ValueError, match="at least one reference"):
        rouge_l("a", [])
