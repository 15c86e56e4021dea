"""Writes image_captioning.ipynb; `--execute` also runs it (full mode) and saves
the outputs: `cd notebooks && MMZOO_DATA_DIR=../../shared/data python
make_image_captioning.py --execute`."""

import sys

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Image captioning with visual attention on mini COCO\n\n"
        "We train `mmzoo.build('captioner')` (\"Show, Attend and Tell\" style: an "
        "image encoder, a GRU decoder attending over the encoder's grid of "
        "positions) on the 80 train images of `coco_captions_mini` (5 captions "
        "each, one example per (image, caption) pair), caption held-out val "
        "images with greedy, top-k and beam decoding, score BLEU-1..4 and CIDEr-D "
        "against all 5 references of each image, and plot the attention of each "
        "generated word.\n\n"
        "**Encoder of the full run: InceptionResNetV2 at 139x139, frozen, random "
        "weights.** It is the issue's model; no ImageNet weights can be "
        "downloaded on these machines (`encoder_weights='imagenet'` uses them "
        "from the Keras cache when present), so its features are random "
        "projections of the pixels and the captions are mostly generic. 139 px "
        "(a 3x3 attention grid) rather than 299 px (8x8) keeps the whole run "
        "under ~10 minutes on 2 CPU cores: the frozen encoder's features are "
        "computed once per image and cached, so the 15 epochs train the decoder "
        "only, and the encoder runs again only when captioning val images.\n\n"
        "Set `MMZOO_QUICK=1` for a fast run (the tests do): the small CNN "
        "encoder at 32x32 (a 2x2 grid), 12 images per split, 2 epochs."
    ),
    nbf.v4.new_code_cell(
        "import os\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "import keras\n"
        "import matplotlib.pyplot as plt\n\n"
        "import mmzoo\n"
        "from mmzoo.data import load_data, to_dataset\n"
        "from mmzoo.models.captioner.evaluation import group_references\n"
        "from mmzoo.models.captioner.tokenizer import caption_words\n"
        "from mmzoo.training.bleu import corpus_bleu\n"
        "from mmzoo.training.cider import corpus_cider\n"
        "from mmzoo.viz.captioner import plot_caption_attention\n\n"
        "QUICK = os.environ.get('MMZOO_QUICK') == '1'\n"
        "ENCODER, SIZE = ('small_cnn', 32) if QUICK else ('inception_resnet_v2', 139)\n"
        "EPOCHS = 2 if QUICK else 15\n"
        "LIMIT = 12 if QUICK else None\n"
        "keras.utils.set_random_seed(0)\n"
        "train = load_data('coco_mini', 'train', image_size=SIZE, max_images=LIMIT)\n"
        "val = load_data('coco_mini', 'val', image_size=SIZE, max_images=LIMIT)\n"
        "print(ENCODER, SIZE, 'train pairs', len(train), 'val pairs', len(val))"
    ),
    nbf.v4.new_markdown_cell("## Train (encoder features computed once)"),
    nbf.v4.new_code_cell(
        "import time\n"
        "model = mmzoo.build('captioner', data=train, encoder=ENCODER)\n"
        "start = time.perf_counter()\n"
        "hist = model.fit(to_dataset(train, 64, shuffle=True),\n"
        "                 validation_data=to_dataset(val, 64), epochs=EPOCHS,\n"
        "                 verbose=0)\n"
        "print(f'{EPOCHS} epochs in {time.perf_counter() - start:.0f} s; images '\n"
        "      f'encoded: {model.feature_cache.encoded} (train + val, once each)')\n"
        "print('vocabulary:', model.tokenizer.vocabulary_size, 'words; grid:',\n"
        "      model.encode(train.features['image'][:1]).shape[1], 'positions')\n"
        "plt.figure(figsize=(5, 3))\n"
        "plt.plot(hist.history['loss'], label='train')\n"
        "plt.plot(hist.history['val_loss'], label='val')\n"
        "plt.xlabel('epoch'); plt.ylabel('masked cross-entropy'); plt.legend()\n"
        "plt.show()"
    ),
    nbf.v4.new_markdown_cell(
        "## Caption held-out images with each method\n\n"
        "Greedy takes the most likely word at each step, top-k samples among the "
        "5 most likely (seeded), beam search keeps the 3 best partial captions. "
        "Each is one compiled `tf.while_loop` over a batch of images."
    ),
    nbf.v4.new_code_cell(
        "index, references = group_references(val)\n"
        "images = val.features['image'][index[:4]]\n"
        "generated = {m: model.caption(images, method=m, k=5, beam_width=3)\n"
        "             for m in ('greedy', 'top_k', 'beam')}\n"
        "fig, axes = plt.subplots(1, 4, figsize=(16, 4.5))\n"
        "for i, ax in enumerate(axes):\n"
        "    ax.imshow(images[i].astype('uint8')); ax.axis('off')\n"
        "    ax.set_title('\\n'.join(f'{m}: {c[i]}' for m, c in generated.items()),\n"
        "                 fontsize=7, loc='left')\n"
        "plt.show()\n"
        "for i, refs in enumerate(references[:4]):\n"
        "    print(f'image {i}: reference: {refs[0]!r}')\n"
        "    for m, c in generated.items():\n"
        "        print(f'  {m:>7}: {c[i]!r}')"
    ),
    nbf.v4.new_markdown_cell(
        "## BLEU and CIDEr on the val images\n\n"
        "Corpus BLEU-1..4 and CIDEr-D (coco-caption's variant: tf-idf n-grams "
        "n=1..4 with document frequencies over the val reference sets, clipped "
        "cosine, Gaussian length penalty, x10), each generated caption against "
        "the 5 references of its image. The last row gives every image the same "
        "caption (the model's most frequent greedy one): scores near it mean the "
        "captions do not depend on the image."
    ),
    nbf.v4.new_code_cell(
        "from collections import Counter\n"
        "val_images = val.features['image'][index]\n"
        "refs = [[caption_words(r) for r in rs] for rs in references]\n"
        "def scores(captions):\n"
        "    hyps = [caption_words(c) for c in captions]\n"
        "    bleu = corpus_bleu(refs, hyps)\n"
        "    return [bleu[f'bleu_{n}'] for n in range(1, 5)] + [\n"
        "        corpus_cider(refs, hyps)['cider'], len(set(captions))]\n"
        "table = {m: scores(model.caption(val_images, method=m))\n"
        "         for m in ('greedy', 'top_k', 'beam')}\n"
        "greedy = model.caption(val_images)\n"
        "table['constant caption'] = scores(\n"
        "    [Counter(greedy).most_common(1)[0][0]] * len(greedy))\n"
        "print(f'{len(index)} val images, {sum(map(len, references))} references')\n"
        "print(f\"{'':>16} BLEU-1 BLEU-2 BLEU-3 BLEU-4  CIDEr  distinct\")\n"
        "for m, row in table.items():\n"
        "    print(f'{m:>16} ' + ' '.join(f'{v:6.3f}' for v in row[:5])\n"
        "          + f'  {row[5]:>8}')\n"
        "# The same numbers as `mmzoo evaluate captioner` (greedy):\n"
        "{k: v for k, v in model.evaluation_report(val).items() if k != 'examples'}"
    ),
    nbf.v4.new_markdown_cell(
        "## Attention per generated word\n\n"
        "Each panel is one generated word; the overlay is the decoder's softmax "
        "attention over the encoder's grid at that step (weights summing to 1; "
        "white = attended)."
    ),
    nbf.v4.new_code_cell(
        "captions, attention, words = model.caption(images[:2], return_attention=True)\n"
        "for i in range(2):\n"
        "    fig = plot_caption_attention(images[i], words[i], attention[i],\n"
        "                                 title=captions[i])\n"
        "    plt.show()"
    ),
    nbf.v4.new_markdown_cell(
        '## Reading the results\n'
        '\n'
        'Full run of 2026-11-24 (InceptionResNetV2 at 139 px, random frozen encoder, 15 epochs, CPU, 2 cores: about 5 minutes in all, the 160 images encoded once each):\n'
        '\n'
        '- The decoder learns the language of the captions (the train loss falls, the captions are fluent) but almost nothing about the images: greedy gives 3 distinct captions for 80 val images, beam 2. Giving every image greedy\'s most frequent caption scores as well as greedy (BLEU-4 0.063 vs 0.061, CIDEr 0.099 vs 0.081): the scores come from frequent words and phrases ("a", "a man", "on a table"), which CIDEr\'s idf weighting discounts, hence its low values.\n'
        "- Beam search scores highest (BLEU-4 0.092, CIDEr 0.157) because its one short generic caption matches the references' common n-grams best; top-k sampling gives 73 distinct captions at about greedy's BLEU and CIDEr.\n"
        "- The attention moves from cell to cell of the 3x3 grid as the words change (each panel's gray scale is stretched to its own weights, which sum to 1; the panels show the first 12 words), but with random features there is no image content for it to follow. With ImageNet weights in the Keras cache, `encoder_weights='imagenet'` gives the real model."
    ),
]

nb = nbf.v4.new_notebook()
nb["cells"] = cells
nb["metadata"]["kernelspec"] = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}
if "--execute" in sys.argv[1:]:  # full run (unless MMZOO_QUICK=1), outputs kept
    from nbclient import NotebookClient

    NotebookClient(nb, timeout=1800, kernel_name="python3").execute()
nbf.write(nb, "image_captioning.ipynb")
