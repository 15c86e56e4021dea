"""Writes gmu_synthetic.ipynb (run once; the notebook is the artefact)."""

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# The Gated Multimodal Unit on the paper's synthetic task\n\n"
        "Arevalo et al. (2017) show the GMU learning *which modality to trust* on a "
        "toy problem: a class `c` and a switch `m`; when `m = 0` the visual value "
        "carries the class and the textual one is noise, when `m = 1` the reverse. "
        "We train `mmzoo.build(\"gmu\")`, look at the gate `z` over the input plane, "
        "and compare with a plain feed-forward net of the same size.\n\n"
        "Set `MMZOO_QUICK=1` for a fast run (the tests do)."
    ),
    nbf.v4.new_code_cell(
        "import os\n"
        "os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')\n"
        "import keras\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n\n"
        "import mmzoo\n"
        "from mmzoo.data import load_data, to_dataset\n"
        "from mmzoo.training.trainer import evaluate_model\n"
        "from mmzoo.viz import plane_grid, plot_gate_map\n\n"
        "QUICK = os.environ.get('MMZOO_QUICK') == '1'\n"
        "EPOCHS = 3 if QUICK else 20\n"
        "keras.utils.set_random_seed(0)\n"
        "train = load_data('synthetic', 'train', seed=0)\n"
        "test = load_data('synthetic', 'test', seed=0)\n"
        "len(train), len(test)"
    ),
    nbf.v4.new_markdown_cell("## The data"),
    nbf.v4.new_code_cell(
        "from mmzoo.data.synthetic import generate\n"
        "visual, textual, c, m = generate(2000, seed=0)\n"
        "fig, ax = plt.subplots(figsize=(5, 4))\n"
        "for cls, marker in ((0, 'o'), (1, 'x')):\n"
        "    for mod, colour in ((0, 'tab:blue'), (1, 'tab:orange')):\n"
        "        sel = (c == cls) & (m == mod)\n"
        "        ax.scatter(textual[sel], visual[sel], s=6, marker=marker, "
        "c=colour, alpha=0.5,\n"
        "                   label=f'c={cls}, signal in ' + "
        "('visual' if mod == 0 else 'textual'))\n"
        "ax.set_xlabel('textual (centred)'); ax.set_ylabel('visual (centred)')\n"
        "ax.legend(fontsize=7); plt.show()"
    ),
    nbf.v4.new_markdown_cell("## Train the GMU"),
    nbf.v4.new_code_cell(
        "gmu = mmzoo.build('gmu', data=train)\n"
        "hist = gmu.fit(to_dataset(train, 64, shuffle=True),\n"
        "               validation_data=to_dataset(load_data('synthetic', 'val'), 256),\n"
        "               epochs=EPOCHS, verbose=0, shuffle=False)\n"
        "gmu_metrics = evaluate_model(gmu, test)\n"
        "plt.figure(figsize=(5, 3))\n"
        "plt.plot(hist.history['loss'], label='train')\n"
        "plt.plot(hist.history['val_loss'], label='val')\n"
        "plt.yscale('log'); plt.xlabel('epoch'); plt.ylabel('cross-entropy')\n"
        "plt.legend(); plt.title('GMU loss'); plt.show()\n"
        "gmu_metrics"
    ),
    nbf.v4.new_markdown_cell(
        "## Gate map and prediction map\n\n"
        "Left: the data. Middle: the gate of the visual modality (mean over the "
        "hidden units) over the input plane. Right: P(class 1)."
    ),
    nbf.v4.new_code_cell("fig = plot_gate_map(gmu, test)\nplt.show()"),
    nbf.v4.new_markdown_cell(
        "## A feed-forward net of the same size\n\n"
        "Concatenate the two inputs and use one tanh hidden layer, its width chosen "
        "so that the parameter count matches the GMU's."
    ),
    nbf.v4.new_code_cell(
        "n_gmu = gmu.count_params()\n"
        "# params of 2 -> h -> 2: 2h + h + 2h + 2 = 5h + 2\n"
        "width = max(1, round((n_gmu - 2) / 5))\n"
        "inputs = {k: keras.Input((1,), name=k) for k in ('textual', 'visual')}\n"
        "x = keras.layers.Concatenate()([inputs['textual'], inputs['visual']])\n"
        "x = keras.layers.Dense(width, activation='tanh')(x)\n"
        "out = keras.layers.Dense(2, activation='softmax')(x)\n"
        "mlp = keras.Model(inputs, out)\n"
        "mlp.compile(keras.optimizers.Adam(0.01), 'sparse_categorical_crossentropy',\n"
        "            metrics=['accuracy'])\n"
        "mlp_hist = mlp.fit(to_dataset(train, 64, shuffle=True), epochs=EPOCHS, "
        "verbose=0, shuffle=False)\n"
        "mlp_predict = lambda batch: {'probabilities': mlp(batch)}\n"
        "mlp_metrics = evaluate_model(mlp_predict, test)\n"
        "print(f'GMU: {n_gmu} parameters, test accuracy {gmu_metrics[\"accuracy\"]:.4f}')\n"
        "print(f'MLP: {mlp.count_params()} parameters, test accuracy "
        "{mlp_metrics[\"accuracy\"]:.4f}')"
    ),
    nbf.v4.new_code_cell(
        "names, xx, yy, grid = plane_grid(test)\n"
        "fig, axes = plt.subplots(1, 2, figsize=(10, 4))\n"
        "for ax, (title, predict) in zip(axes, [('GMU', gmu), ('MLP', mlp_predict)]):\n"
        "    p = np.asarray(predict(grid)['probabilities'])[:, 1].reshape(xx.shape)\n"
        "    ax.contourf(xx, yy, p, levels=20, cmap='coolwarm', vmin=0, vmax=1)\n"
        "    ax.scatter(test.features['textual'], test.features['visual'], "
        "c=test.labels, s=2, cmap='coolwarm')\n"
        "    ax.set_title(f'{title}: P(class 1)'); ax.set_xlabel('textual'); "
        "ax.set_ylabel('visual')\n"
        "plt.show()"
    ),
]
nb = nbf.v4.new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                             "language": "python"}
nbf.write(nb, "gmu_synthetic.ipynb")
