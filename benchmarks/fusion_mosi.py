"""Every fusion model and each single modality on CMU-MOSI, over seeds.

python benchmarks/fusion_mosi.py --data-dir ../shared/data --out fusion_mosi_out

Trains each variant of `mmzoo.training.fusion_comparison.MOSI_VARIANTS` (every
fusion zoo config on the `mosi` source, multiplicative / bilinear / polynomial /
hybrid / late fusion, concat with modality dropout, and text, audio and video
alone) for each seed on the `train` split (by-video split, `split_seed=0`) and
prints two Markdown tables: validation accuracy and F1 (mean ± std over seeds),
and validation accuracy of each multimodal model with one modality removed at
test time, (a) masked through the `modality_mask` input and (b) replaced by
Gaussian noise with the training features' per-feature mean and std. Writes
`results.json`, `tables.md`, `fusion_accuracy.png` and `fusion_robustness.png`
to `--out` and nothing elsewhere.

Caveat: the bc-LSTM MOSI features leak labels (see `mosi_linear_probe.py`:
text alone gets ~0.99 with a ridge classifier), so fusions differ little in
accuracy; the robustness table is where they differ.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import matplotlib  # noqa: E402

matplotlib.use("Agg")  # no display: write the plots to files

import numpy as np  # noqa: E402

from mmzoo.data import load_data  # noqa: E402
from mmzoo.fileio import write_json_atomic, write_text_atomic  # noqa: E402
from mmzoo.training.fusion_comparison import (  # noqa: E402
    MOSI_VARIANTS,
    accuracy_table,
    compare_fusions,
    robustness_table,
    summarize_robustness,
    summarize_runs,
)
from mmzoo.viz.fusion import plot_fusion_accuracy, plot_robustness  # noqa: E402

DEFAULT_EPOCHS = 10
MODALITIES = ("text", "audio", "video")


def log(line):
    print(line, file=sys.stderr, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="default $MMZOO_DATA_DIR, then ./data")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated ints")
    parser.add_argument(
        "--epochs", type=int, default=DEFAULT_EPOCHS,
        help=f"epochs per model (default {DEFAULT_EPOCHS}; the configs say 30)",
    )
    parser.add_argument(
        "--only", help="comma-separated variant names (default: all); "
        f"names: {', '.join(v.name for v in MOSI_VARIANTS)}",
    )
    parser.add_argument("--out", default="fusion_mosi_out", help="output directory")
    parser.add_argument(
        "--json", action="store_true", help="print the results as JSON, not tables"
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    variants = list(MOSI_VARIANTS)
    if args.only:
        wanted = [w.strip() for w in args.only.split(",")]
        unknown = sorted(set(wanted) - {v.name for v in variants})
        if unknown:
            sys.exit(f"Unknown variants {unknown}; see --help for the names")
        variants = [v for v in variants if v.name in wanted]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train = load_data("mosi", "train", args.data_dir)
    val = load_data("mosi", "val", args.data_dir)
    majority = float(max(np.mean(val.labels == c) for c in (0, 1)))
    log(f"MOSI: {len(train)} train, {len(val)} val utterances; majority class "
        f"{majority:.3f}; {len(variants)} models x seeds {seeds}, {args.epochs} "
        "epochs")

    start = time.perf_counter()
    results = compare_fusions(
        variants, train, val, seeds=seeds, epochs=args.epochs, log=log
    )
    wall = time.perf_counter() - start
    summary = summarize_runs(results["runs"])
    robust = summarize_robustness(results["robustness"])

    heading = (
        f"CMU-MOSI (bc-LSTM features), validation split ({len(val)} utterances, "
        f"by video, split_seed 0; majority class {majority:.3f}); {args.epochs} "
        f"epochs, seeds {','.join(map(str, seeds))}; total {wall / 60:.1f} min."
    )
    tables = "\n\n".join(
        [
            heading,
            "Validation accuracy and F1 (mean ± std over seeds):",
            accuracy_table(summary),
            "Validation accuracy with one modality removed at test time "
            "(mask: `modality_mask` input; noise: Gaussian with the training "
            "features' mean and std):",
            robustness_table(robust, MODALITIES, seeds=len(seeds)),
        ]
    )
    payload = {
        "epochs": args.epochs,
        "seeds": seeds,
        "majority_class": majority,
        "num_train": len(train),
        "num_val": len(val),
        "seconds": round(wall, 1),
        "summary": summary,
        **results,
    }
    write_json_atomic(out / "results.json", payload)
    write_text_atomic(out / "tables.md", tables + "\n")
    figure = plot_fusion_accuracy(summary, chance=majority)
    figure.savefig(out / "fusion_accuracy.png", dpi=120)
    if robust:
        figure = plot_robustness(robust, MODALITIES)
        figure.savefig(out / "fusion_robustness.png", dpi=120)
    print(json.dumps(payload, indent=1) if args.json else tables)


if __name__ == "__main__":
    main()
