"""Corpus BLEU-1..4 (Papineni et al., ACL 2002) in pure Python.

Clipped n-gram precisions are summed over the corpus (not averaged per
sentence); BLEU-N is the brevity penalty times the geometric mean of the
precisions of orders 1..N. The reference length of a hypothesis is the length of
its closest reference (the shorter one on ties), as in NLTK and the COCO
caption evaluation. A zero precision makes the score 0 (no smoothing).
"""

import collections
import math


def ngram_counts(words, n):
    return collections.Counter(
        tuple(words[i : i + n]) for i in range(len(words) - n + 1)
    )


def corpus_bleu(references, hypotheses, max_order=4):
    """BLEU-1..`max_order` of tokenised hypotheses against their references.

    Args:
        references: list (one per hypothesis) of lists of token lists.
        hypotheses: list of token lists.
        max_order: int. Highest n-gram order.

    Returns:
        dict `bleu_1` .. `bleu_{max_order}` (floats in [0, 1]), `precisions`
        (list), `brevity_penalty`, `hypothesis_length`, `reference_length`.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"`references` and `hypotheses` differ in length: {len(references)} "
            f"vs {len(hypotheses)}"
        )
    matches = [0] * max_order
    totals = [0] * max_order
    hyp_len = ref_len = 0
    for refs, hyp in zip(references, hypotheses):
        hyp = list(hyp)
        hyp_len += len(hyp)
        if refs:
            ref_len += min((abs(len(r) - len(hyp)), len(r)) for r in refs)[1]
        for n in range(1, max_order + 1):
            counts = ngram_counts(hyp, n)
            max_ref = collections.Counter()
            for r in refs:
                for gram, c in ngram_counts(list(r), n).items():
                    max_ref[gram] = max(max_ref[gram], c)
            matches[n - 1] += sum(min(c, max_ref[g]) for g, c in counts.items())
            totals[n - 1] += max(len(hyp) - n + 1, 0)
    precisions = [m / t if t else 0.0 for m, t in zip(matches, totals)]
    if hyp_len == 0:
        bp = 0.0
    elif hyp_len > ref_len:
        bp = 1.0
    else:
        bp = math.exp(1.0 - ref_len / hyp_len)
    result = {}
    for n in range(1, max_order + 1):
        ps = precisions[:n]
        score = 0.0 if min(ps) == 0 else bp * math.exp(sum(map(math.log, ps)) / n)
        result[f"bleu_{n}"] = score
    result.update(
        precisions=precisions,
        brevity_penalty=bp,
        hypothesis_length=hyp_len,
        reference_length=ref_len,
    )
    return result
