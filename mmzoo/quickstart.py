"""The README's first command: train, evaluate, plot, export and serve the GMU."""

import json
import subprocess
import sys
from pathlib import Path

from mmzoo.config import load_config
from mmzoo.data import load_data
from mmzoo.export import export_saved_model
from mmzoo.training.trainer import evaluate_model, train_run
from mmzoo.viz import plot_gate_map


def run_quickstart(
    run_dir="runs/gmu-quickstart", savedmodels="savedmodels", epochs=None
):
    """Train `gmu` on synthetic data and carry it to a served prediction."""
    run_dir = Path(run_dir)
    print("== 1/5 train gmu on the synthetic bimodal task", flush=True)
    cfg = load_config("gmu")
    result = train_run(cfg, run_dir, epochs=epochs, verbose=2, overwrite=True)
    model = result.model

    print("== 2/5 evaluate on the held-out test split", flush=True)
    test = load_data("synthetic", "test", seed=int(cfg.train["seed"]))
    metrics = evaluate_model(model, test)
    print(json.dumps({"split": "test", **metrics}), flush=True)

    print("== 3/5 gate map", flush=True)
    plot_gate_map(model, test, path=run_dir / "gate_map.png")
    print(f"wrote {run_dir / 'gate_map.png'}", flush=True)

    print("== 4/5 export SavedModel", flush=True)
    path = export_saved_model(model, Path(savedmodels) / "gmu")
    print(f"wrote {path}", flush=True)

    print("== 5/5 reload the SavedModel in a fresh process and predict", flush=True)
    payload = {
        "instances": [
            {k: test.features[k][i].tolist() for k in test.features} for i in range(4)
        ]
    }
    request = run_dir / "request.json"
    request.write_text(json.dumps(payload))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mmzoo.cli",
            "predict",
            "gmu",
            "--model",
            str(path),
            "--input",
            str(request),
        ],
        check=True,
    )
    print(f"true labels: {test.labels[:4].tolist()}")
    return metrics
