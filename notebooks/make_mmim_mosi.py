"""Writes mmim_mosi.ipynb (run once; the notebook is the artefact)."""

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# MultiModal InfoMax (MMIM) on CMU-MOSI\n\n"
        "Han, Chen and Poria (EMNLP 2021) train a fusion network so that the fused "
        "representation z keeps the information of each modality (a CPC / InfoNCE "
        "bound between z and the text, audio and video representations) and the "
        "modalities keep what they share (a Barber-Agakov bound text -> audio and "
        "text -> video, with a Gaussian predictor and a mixture entropy estimate). "
        "Training alternates two stages: the predictors maximise their likelihood, "
        "then everything else minimises `task + alpha * CPC - beta * BA`.\n\n"
        "We train `mmzoo.build('mmim')` (a small BERT from scratch on the "
        "transcripts, MLPs over the audio and video utterance vectors), plot every "
        "loss term, project the learned fusion representations to 2-D, compare with "
        "the ablation alpha = beta = 0, and serve raw transcripts from a SavedModel."
        "\n\nSet `MMZOO_QUICK=1` for a fast run on a subset (the tests do); "
        "`MMZOO_DATA_DIR` must point at the shared data."
    ),
    nbf.v4.new_code_cell(
        "import os\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "import tempfile\n\n"
        "import keras\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "import mmzoo\n"
        "from mmzoo.data import load_data, to_dataset\n"
        "from mmzoo.export import export_saved_model, load_serving_signature\n"
        "from mmzoo.models.mmim import binary_metrics\n\n"
        "QUICK = os.environ.get('MMZOO_QUICK') == '1'\n"
        "train = load_data('mosi', 'train', with_transcripts=True)\n"
        "val = load_data('mosi', 'val', with_transcripts=True)\n"
        "overrides = {}\n"
        "if QUICK:  # a subset and a tiny BERT: the pipeline, not the numbers\n"
        "    train, val = train.subset(np.arange(128)), val.subset(np.arange(64))\n"
        "    overrides = {'text_encoder': {'type': 'bert', 'num_layers': 1,\n"
        "                                  'num_heads': 1, 'hidden_dim': 16,\n"
        "                                  'intermediate_dim': 16,\n"
        "                                  'sequence_length': 16}}\n"
        "EPOCHS = 1 if QUICK else mmzoo.load_config('mmim').train['epochs']\n"
        "len(train), len(val), EPOCHS"
    ),
    nbf.v4.new_markdown_cell(
        "## Train MMIM and its ablation\n\n"
        "`fit` runs both stages on every batch; the history holds every term: "
        "`task_loss`, `cpc_loss` (InfoNCE, summed over the three modalities), "
        "`likelihood` (stage 1: mean log q(h_y | h_t), summed over the two pairs), "
        "`entropy` (the mixture entropy estimate of h_a and h_v), `ba_bound` "
        "(likelihood + entropy after the stage-1 update) and the total `loss`."
    ),
    nbf.v4.new_code_cell(
        "def train_mmim(**extra):\n"
        "    keras.utils.set_random_seed(0)\n"
        "    model = mmzoo.build('mmim', data=train, **overrides, **extra)\n"
        "    history = model.fit(to_dataset(train, 32, shuffle=True, seed=0),\n"
        "                        validation_data=to_dataset(val, 64),\n"
        "                        epochs=EPOCHS, verbose=0, shuffle=False)\n"
        "    return model, history.history\n\n"
        "mmim, history = train_mmim()\n"
        "ablation, ablation_history = train_mmim(alpha=0.0, beta=0.0)\n"
        "{k: round(v[-1], 3) for k, v in history.items()}"
    ),
    nbf.v4.new_code_cell(
        "terms = ['loss', 'task_loss', 'cpc_loss', 'likelihood', 'entropy', "
        "'ba_bound']\n"
        "fig, axes = plt.subplots(2, 3, figsize=(12, 6))\n"
        "epochs = np.arange(1, EPOCHS + 1)\n"
        "for ax, term in zip(axes.flat, terms):\n"
        "    ax.plot(epochs, history[term], 'o-', label='train')\n"
        "    ax.plot(epochs, history[f'val_{term}'], 's--', label='val')\n"
        "    ax.set_title(term); ax.set_xlabel('epoch')\n"
        "axes[0, 0].legend(); fig.tight_layout(); plt.show()"
    ),
    nbf.v4.new_markdown_cell("## Validation accuracy and F1"),
    nbf.v4.new_code_cell(
        "def predict(model, data, batch=128):\n"
        "    outputs = [model({k: v[i:i + batch] for k, v in data.features.items()})\n"
        "               for i in range(0, len(data), batch)]\n"
        "    return {k: np.concatenate([np.asarray(o[k]) for o in outputs])\n"
        "            for k in outputs[0]}\n\n"
        "results = {name: predict(model, val)\n"
        "           for name, model in [('MMIM', mmim), ('alpha = beta = 0', "
        "ablation)]}\n"
        "for name, out in results.items():\n"
        "    m = binary_metrics(out['probabilities'], val.labels)\n"
        "    print(f\"{name:<18} accuracy {m['accuracy']:.3f}  F1 {m['f1']:.3f}\")"
    ),
    nbf.v4.new_markdown_cell(
        "## The fusion representations in 2-D\n\n"
        "PCA (an SVD of the centred validation fusion vectors z), coloured by the "
        "sentiment label."
    ),
    nbf.v4.new_code_cell(
        "def pca_2d(z):\n"
        "    z = z - z.mean(0)\n"
        "    _, s, vt = np.linalg.svd(z, full_matrices=False)\n"
        "    return z @ vt[:2].T, s[:2] ** 2 / np.sum(s ** 2)\n\n"
        "fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))\n"
        "for ax, (name, out) in zip(axes, results.items()):\n"
        "    points, share = pca_2d(out['fusion'])\n"
        "    for label, colour in ((0, 'tab:blue'), (1, 'tab:red')):\n"
        "        sel = val.labels == label\n"
        "        ax.scatter(points[sel, 0], points[sel, 1], s=8, c=colour, "
        "alpha=0.6,\n"
        "                   label=val.class_names[label])\n"
        "    ax.set_title(f'{name}: fusion z'); ax.legend()\n"
        "    ax.set_xlabel(f'PC1 ({share[0]:.0%})'); "
        "ax.set_ylabel(f'PC2 ({share[1]:.0%})')\n"
        "plt.show()"
    ),
    nbf.v4.new_markdown_cell(
        "## Serving raw transcripts\n\n"
        "The WordPiece tokenizer is a layer of the model, so the SavedModel's "
        "`serving_default` signature takes the transcript strings with the audio "
        "and video features (loading it needs `tensorflow_text`, which keras-hub "
        "imports)."
    ),
    nbf.v4.new_code_cell(
        "with tempfile.TemporaryDirectory() as tmp:\n"
        "    signature = load_serving_signature(export_saved_model(mmim, tmp))\n"
        "    batch = {k: val.features[k][:4] for k in mmim.input}\n"
        "    served = signature(**{k: np.asarray(v) for k, v in batch.items()})\n"
        "    keras_out = mmim(batch)\n"
        "for text, p in zip(batch['transcript'], "
        "np.asarray(served['probabilities'])):\n"
        "    print(f'P(positive) = {p[1]:.2f}  {text}')\n"
        "print('max |served - keras| =', float(np.max(np.abs(\n"
        "    np.asarray(served['probabilities']) - "
        "np.asarray(keras_out['probabilities'])))))"
    ),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                             "language": "python"}
nbf.write(nb, "mmim_mosi.ipynb")
