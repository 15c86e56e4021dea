import math

import pytest

from mmzoo.training.cider import corpus_cider


def _split(captions):
    return [c.split() for c in captions]


def test_identical_caption_scores_ten_and_disjoint_zero():
    # Two images whose n-grams are unique to them: every idf is log(2) - log(1).
    refs = [[["a", "dog", "on", "grass"]], [["two", "red", "cats", "sleep"]]]
    out = corpus_cider(refs, [["a", "dog", "on", "grass"], ["blue", "sky"]])
    # Image 1: identical, cosine 1 for n = 1..4, no length difference -> 10.
    # Image 2: no n-gram in common with its references -> 0.
    assert out["scores"] == pytest.approx([10.0, 0.0])
    assert out["cider"] == pytest.approx(5.0)
    # Three words: no 4-gram, so that order contributes 0 -> 10 * 3 / 4.
    short = corpus_cider([[["a", "b", "c"]], [["d", "e", "f"]]], [["a", "b", "c"]] * 2)
    assert short["scores"] == pytest.approx([7.5, 0.0])


def test_one_image_or_ngrams_in_every_image_give_zero():
    # idf = log(#images) - log(df) = 0 for n-grams in every image's references.
    assert corpus_cider([[["a", "b"]]], [["a", "b"]])["cider"] == 0.0
    out = corpus_cider([[["a", "b"]], [["a", "b"]]], [["a", "b"], ["a", "b"]])
    assert out["cider"] == 0.0
    assert corpus_cider([], []) == {"cider": 0.0, "scores": []}
    with pytest.raises(ValueError, match="differ in length"):
        corpus_cider([], [["a"]])


def test_length_penalty_hand_computed():
    refs = [[["a", "b", "c", "d", "e"]], [["f", "g", "h", "i"]]]
    out = corpus_cider(refs, [["a", "b", "c", "d"], ["f", "g", "h", "i"]])
    # Equal idf w for every n-gram. Cosines: 1-grams 4 w^2 / (2w * sqrt(5) w),
    # 2-grams 3 / (sqrt(3) * 2), 3-grams 2 / (sqrt(2) sqrt(3)), 4-grams 1 / sqrt(2).
    # Lengths in bigrams 3 vs 4: penalty exp(-1 / (2 * 6^2)).
    cosines = [2 / math.sqrt(5), math.sqrt(3) / 2, math.sqrt(2 / 3), 1 / math.sqrt(2)]
    expected = 10 * math.exp(-1 / 72) * sum(cosines) / 4
    assert out["scores"] == pytest.approx([expected, 10.0])


def test_candidate_counts_clipped_to_reference_counts():
    refs = [[["x", "y", "z", "w"]], [["p", "q", "r", "s"]]]
    out = corpus_cider(refs, [["x", "x", "x", "x"], ["p"]])
    # 1-grams: candidate x weighs 4w, reference x weighs w: min(4w, w) * w over
    # norms 4w * 2w = 1/8 (1/2 without clipping). Higher orders: "x x" etc. are
    # not in the reference -> 0. Bigram lengths 3 and 3: no penalty.
    assert out["scores"][0] == pytest.approx(10 * (1 / 8) / 4)


def test_reference_order_and_image_order_do_not_matter():
    refs = [
        _split(["a man rides a horse", "a person on a brown horse", "a horse"]),
        _split(["two dogs play", "dogs chase a ball"]),
        _split(["a plate of food", "food on a table"]),
    ]
    hyps = _split(["a man on a horse", "two dogs chase a ball", "a plate"])
    base = corpus_cider(refs, hyps)
    shuffled = corpus_cider([r[::-1] for r in refs], hyps)
    assert shuffled["scores"] == pytest.approx(base["scores"])
    swapped = corpus_cider(refs[::-1], hyps[::-1])
    assert swapped["scores"] == pytest.approx(base["scores"][::-1])
    assert base["cider"] > 0


def test_matches_coco_caption_toolkit_value():
    # Reference: the coco-caption toolkit's CiderScorer (pycocoevalcap/cider/
    # cider_scorer.py, CIDEr-D, sigma 6), run on these captions.
    hyps = _split(
        [
            "a man riding a horse on a beach",
            "two dogs play with a ball",
            "a plate of food",
        ]
    )
    refs = [
        _split(
            [
                "a man rides a horse on the beach",
                "a person riding a brown horse along the shore",
                "a man on a horse by the ocean",
            ]
        ),
        _split(
            [
                "two dogs playing with a red ball in the grass",
                "a pair of dogs chase a ball",
            ]
        ),
        _split(
            [
                "a plate of food with broccoli",
                "a white plate topped with food",
                "food on a plate on a table",
                "a dinner plate",
            ]
        ),
    ]
    out = corpus_cider(refs, hyps)
    assert out["scores"] == pytest.approx(
        [2.2991897525571274, 1.6919219404935657, 2.9412849950740583]
    )
    assert out["cider"] == pytest.approx(2.3107988960415837)
