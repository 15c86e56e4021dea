"""MOSI validation accuracy and F1 of MMIM against the zoo's MOSI baselines.

python benchmarks/mmim_mosi.py --data-dir ../shared/data [--seeds 0,1,2] [--epochs N]

Every row trains a zoo config with `mmzoo.training.trainer.train_run` (the
`mosi` source: train/val split by video, `split_seed` 0, so every seed sees
the same validation videos) and reports the validation accuracy and F1 (of the
positive class) as mean ± sample std over the seeds. Rows:

- `mmim`: MMIM with a small BERT trained from scratch on the transcripts
  (no pretrained weights can be downloaded here), and its ablation
  alpha = beta = 0 (task loss only: no CPC, no BA bound);
- `mmim` with the 100-d precomputed text features instead of BERT (the input
  the baselines get), with and without the MI terms;
- the baselines `gmu_mosi`, `concat`, `tfn` and `lmf`.

`--epochs` sets every row's epochs (default: each config's own). The last
column is the accuracy difference to `concat`, measured in the same run.
"""

import argparse
import datetime
import tempfile
import time

import numpy as np

import mmzoo
from mmzoo.training.trainer import train_run

FEATURES_TEXT = {
    "text_encoder": {"type": "features", "units": [64], "output_dim": 64},
    "data.with_transcripts": False,
}
NO_MI = {"alpha": 0.0, "beta": 0.0}
ROWS = [
    ("MMIM, BERT from scratch on transcripts", "mmim", {}),
    ("MMIM, BERT, alpha = beta = 0", "mmim", NO_MI),
    ("MMIM, text features", "mmim", FEATURES_TEXT),
    ("MMIM, text features, alpha = beta = 0", "mmim", {**FEATURES_TEXT, **NO_MI}),
    ("GMU", "gmu_mosi", {}),
    ("Concat (early fusion)", "concat", {}),
    ("TFN", "tfn", {}),
    ("LMF", "lmf", {}),
]
BASELINE = "Concat (early fusion)"


def run_row(name, overrides, seeds, epochs, data_dir):
    """Validation metrics of one zoo config, one `train_run` per seed."""
    results = []
    for seed in seeds:
        cfg = mmzoo.load_config(name, overrides)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as run_dir:
            result = train_run(
                cfg, run_dir, data_dir=data_dir, epochs=epochs, seed=seed, verbose=0
            )
        metrics = dict(result.metrics, seconds=time.perf_counter() - start)
        metrics["epochs"] = int(cfg.train["epochs"])
        results.append(metrics)
    return results


def mean_std(values):
    values = np.asarray(values, "float64")
    std = values.std(ddof=1) if len(values) > 1 else 0.0
    return f"{values.mean():.3f} ± {std:.3f}"


def markdown_table(rows):
    base = np.mean([r["accuracy"] for r in rows[BASELINE]])
    lines = [
        "| model | zoo config | epochs | val accuracy | val F1 | s / run "
        f"| Δ accuracy vs {BASELINE} |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, name, _ in ROWS:
        results = rows[label]
        accuracy = [r["accuracy"] for r in results]
        lines.append(
            f"| {label} | {name} | {results[0]['epochs']} | {mean_std(accuracy)} "
            f"| {mean_std([r['f1'] for r in results])} "
            f"| {np.mean([r['seconds'] for r in results]):.0f} "
            f"| {np.mean(accuracy) - base:+.3f} |"
        )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data directory ($MMZOO_DATA_DIR)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--epochs", type=int, help="epochs of every row")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = {}
    for label, name, overrides in ROWS:
        rows[label] = run_row(name, overrides, seeds, args.epochs, args.data_dir)
        print(f"done: {label} ({sum(r['seconds'] for r in rows[label]):.0f} s)")
    print()
    print(
        f"CMU-MOSI validation split (20% of the videos, split_seed 0, "
        f"{rows[BASELINE][0]['num_samples']} utterances), seeds {seeds}, "
        f"{datetime.date.today().isoformat()}; mean ± sample std over seeds.\n"
    )
    print(markdown_table(rows))


if __name__ == "__main__":
    main()
