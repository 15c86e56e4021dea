"""BLEU and CIDEr of generated captions against every reference caption of each
image."""

from mmzoo.models.captioner.feature_cache import image_digest
from mmzoo.models.captioner.tokenizer import caption_words
from mmzoo.training.bleu import corpus_bleu
from mmzoo.training.cider import corpus_cider


def group_references(data):
    """Distinct images of `data` (first occurrence) and their reference captions."""
    order, refs, first = [], {}, {}
    for i, image in enumerate(data.features["image"]):
        d = image_digest(image)
        if d not in refs:
            order.append(d)
            refs[d] = []
            first[d] = i
        refs[d].append(str(data.features["caption"][i]))
    return [first[d] for d in order], [refs[d] for d in order]


def evaluation_report(
    model, data, method="greedy", beam_width=3, batch_size=32, num_examples=3
):
    """Corpus BLEU-1..4 and CIDEr-D of `model.caption` on the distinct images
    of `data`, each caption against all the references of its image."""
    index, references = group_references(data)
    images = data.features["image"][index]
    captions = model.caption(
        images, method=method, beam_width=beam_width, batch_size=batch_size
    )
    refs_words = [[caption_words(r) for r in refs] for refs in references]
    hyp_words = [caption_words(c) for c in captions]
    scores = corpus_bleu(refs_words, hyp_words)
    cider = corpus_cider(refs_words, hyp_words)["cider"]
    return {
        **{f"bleu_{n}": round(scores[f"bleu_{n}"], 4) for n in range(1, 5)},
        "cider": round(cider, 4),
        "brevity_penalty": round(scores["brevity_penalty"], 4),
        "method": method,
        "num_images": len(index),
        "num_references": sum(len(r) for r in references),
        "distinct_captions": len(set(captions)),
        "examples": [
            {"generated": c, "reference": r[0]}
            for c, r in zip(captions[:num_examples], references[:num_examples])
        ],
    }
