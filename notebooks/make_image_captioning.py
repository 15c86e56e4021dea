"""Writes image_captioning.ipynb (run once; the notebook is the artefact)."""

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# Image captioning with visual attention on mini COCO\n\n"
        "We train `mmzoo.build('captioner')` on the 80 train images of "
        "`coco_captions_mini` (5 captions each, one example per pair), caption "
        "held-out val images with greedy, top-k and beam decoding, score BLEU and "
        "plot the attention of each generated word. No ImageNet weights are "
        "available offline, so the encoder is random: expect generic captions.\n\n"
        "Set `MMZOO_QUICK=1` for a fast run (the tests do): the small CNN encoder "
        "at 32x32; otherwise InceptionResNetV2 at 139x139 (a 3x3 attention grid)."
    ),
    nbf.v4.new_code_cell(
        "import os\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "import keras\n"
        "import matplotlib.pyplot as plt\n\n"
        "import mmzoo\n"
        "from mmzoo.data import load_data, to_dataset\n"
        "from mmzoo.models.captioner.evaluation import group_references\n"
        "from mmzoo.viz.captioner import plot_caption_attention\n\n"
        "QUICK = os.environ.get('MMZOO_QUICK') == '1'\n"
        "ENCODER, SIZE = ('small_cnn', 32) if QUICK else ('inception_resnet_v2', 139)\n"
        "EPOCHS = 2 if QUICK else 15\n"
        "LIMIT = 12 if QUICK else None\n"
        "keras.utils.set_random_seed(0)\n"
        "train = load_data('coco_mini', 'train', image_size=SIZE, max_images=LIMIT)\n"
        "val = load_data('coco_mini', 'val', image_size=SIZE, max_images=LIMIT)\n"
        "len(train), len(val)"
    ),
    nbf.v4.new_markdown_cell("## Train (encoder features computed once)"),
    nbf.v4.new_code_cell(
        "model = mmzoo.build('captioner', data=train, encoder=ENCODER)\n"
        "hist = model.fit(to_dataset(train, 64, shuffle=True),\n"
        "                 validation_data=to_dataset(val, 64), epochs=EPOCHS,\n"
        "                 verbose=0)\n"
        "print('images encoded:', model.feature_cache.encoded)\n"
        "plt.figure(figsize=(5, 3))\n"
        "plt.plot(hist.history['loss'], label='train')\n"
        "plt.plot(hist.history['val_loss'], label='val')\n"
        "plt.xlabel('epoch'); plt.ylabel('masked cross-entropy'); plt.legend()\n"
        "plt.show()"
    ),
    nbf.v4.new_markdown_cell("## Caption held-out images with each method"),
    nbf.v4.new_code_cell(
        "index, references = group_references(val)\n"
        "images = val.features['image'][index[:4]]\n"
        "for method in ('greedy', 'top_k', 'beam'):\n"
        "    captions = model.caption(images, method=method, k=5, beam_width=3)\n"
        "    for c, refs in zip(captions, references[:4]):\n"
        "        print(f'{method:>7}: {c!r}  | ref: {refs[0]!r}')"
    ),
    nbf.v4.new_code_cell(
        "{m: model.evaluation_report(val, method=m)['bleu_4']\n"
        " for m in ('greedy', 'beam')}"
    ),
    nbf.v4.new_markdown_cell("## Attention per generated word"),
    nbf.v4.new_code_cell(
        "captions, attention, words = model.caption(images[:1], return_attention=True)\n"
        "fig = plot_caption_attention(images[0], words[0], attention[0],\n"
        "                             title=captions[0])\n"
        "plt.show()"
    ),
]

nb = nbf.v4.new_notebook()
nb["cells"] = cells
nb["metadata"]["kernelspec"] = {
    "name": "python3",
    "display_name": "Python 3",
    "language": "python",
}
nbf.write(nb, "image_captioning.ipynb")
