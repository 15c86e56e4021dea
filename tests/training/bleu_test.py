import math

import pytest

from mmzoo.training.bleu import corpus_bleu


def test_bleu_hand_computed():
    hyp = "the cat sat on the mat".split()
    refs = ["the cat is on the mat".split(), "there is a cat on the mat".split()]
    # 1-grams: the(2, clipped 2) cat sat(0) on the mat -> 5/6
    # 2-grams: the cat, cat sat, sat on, on the, the mat -> 3/5
    # 3-grams: the cat sat, cat sat on, sat on the, on the mat -> 1/4
    # 4-grams: ..., sat on the mat -> 0/3 -> BLEU-4 = 0
    # lengths: hyp 6, closest ref 6 -> brevity penalty 1
    out = corpus_bleu([refs], [hyp])
    assert out["precisions"] == pytest.approx([5 / 6, 3 / 5, 1 / 4, 0.0])
    assert out["bleu_1"] == pytest.approx(5 / 6)
    assert out["bleu_2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert out["bleu_3"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert out["bleu_4"] == 0.0


def test_bleu_corpus_sums_counts_and_brevity_penalty():
    refs = [["a b c d e".split()], ["a b c d".split()]]
    hyps = ["a b c".split(), "a b c d".split()]
    out = corpus_bleu(refs, hyps)
    # c = 7, r = 5 + 4 = 9 -> BP = exp(1 - 9/7); all n-gram precisions are 1
    # for n <= 3: 1-grams 7/7, 2-grams 5/5, 3-grams 3/3, 4-grams 1/1.
    bp = math.exp(1 - 9 / 7)
    assert out["brevity_penalty"] == pytest.approx(bp)
    for n in range(1, 5):
        assert out[f"bleu_{n}"] == pytest.approx(bp)
    assert corpus_bleu([[["x"]]], [["x"]])["bleu_1"] == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        corpus_bleu([], [["a"]])
