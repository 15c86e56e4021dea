"""Corpus CIDEr-D (Vedantam et al., CVPR 2015) in pure Python.

The variant of the coco-caption toolkit (`pycocoevalcap/cider`), which the
COCO leaderboards report as "CIDEr":

- each caption is a vector of tf-idf weights of its n-grams, n = 1..4; the
  term frequency is the n-gram's count in the caption, the document frequency
  df the number of *evaluated images* whose reference set contains it, and the
  weight `tf * (log(num_images) - log(max(1, df)))`;
- per order n, the similarity of a candidate to one reference is the cosine of
  their vectors with the candidate's weights clipped to the reference's
  (`min(w_cand, w_ref) * w_ref`), times a Gaussian length penalty
  `exp(-(l_cand - l_ref)^2 / (2 sigma^2))`, sigma = 6, where l is the
  caption's number of bigrams (as in the toolkit: the length of a caption of
  at least two words, minus one);
- an image's score is the mean over n of these similarities, averaged over its
  references, times 10; the corpus score is the mean over images.

An n-gram present in every image's references has idf 0, so CIDEr needs at
least two images (one image gives 0). The toolkit tokenises with the PTB
tokenizer (lower case, no punctuation); pass already tokenised word lists.
"""

import collections
import math


def _ngrams(words, max_order):
    counts = collections.Counter()
    for n in range(1, max_order + 1):
        for i in range(len(words) - n + 1):
            counts[tuple(words[i : i + n])] += 1
    return counts


def corpus_cider(references, hypotheses, max_order=4, sigma=6.0):
    """CIDEr-D of tokenised hypotheses against their references.

    Args:
        references: list (one per image) of lists of token lists.
        hypotheses: list (one per image) of token lists.
        max_order: int. Highest n-gram order.
        sigma: float. Standard deviation of the length penalty.

    Returns:
        dict `cider` (corpus mean, >= 0; 10 for a perfect match of n-grams
        unique to their image) and `scores` (list, one per image).
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"`references` and `hypotheses` differ in length: {len(references)} "
            f"vs {len(hypotheses)}"
        )
    if not hypotheses:
        return {"cider": 0.0, "scores": []}
    ref_counts = [[_ngrams(list(r), max_order) for r in refs] for refs in references]
    doc_freq = collections.Counter()
    for refs in ref_counts:
        doc_freq.update({gram for counts in refs for gram in counts})
    log_images = math.log(len(hypotheses))

    def vector(counts):
        vec = [{} for _ in range(max_order)]
        norm = [0.0] * max_order
        length = 0
        for gram, tf in counts.items():
            n = len(gram) - 1
            w = tf * (log_images - math.log(max(1.0, doc_freq[gram])))
            vec[n][gram] = w
            norm[n] += w * w
            if n == 1:
                length += tf
        return vec, [math.sqrt(x) for x in norm], length

    scores = []
    for hyp, refs in zip(hypotheses, ref_counts):
        vec, norm, length = vector(_ngrams(list(hyp), max_order))
        total = 0.0
        for ref in refs:
            rvec, rnorm, rlength = vector(ref)
            penalty = math.exp(-((length - rlength) ** 2) / (2 * sigma**2))
            for n in range(max_order):
                dot = sum(
                    min(w, rvec[n].get(g, 0.0)) * rvec[n].get(g, 0.0)
                    for g, w in vec[n].items()
                )
                if norm[n] and rnorm[n]:
                    total += dot / (norm[n] * rnorm[n]) * penalty / max_order
        scores.append(10.0 * total / len(refs) if refs else 0.0)
    return {"cider": sum(scores) / len(scores), "scores": scores}
