"""Validation accuracy of a ridge classifier per MOSI modality (a leakage probe).

python benchmarks/mosi_linear_probe.py --data-dir ../shared/data
"""

import argparse

import numpy as np

from mmzoo.data import load_data


def ridge_accuracy(train, val, modality, alpha=0.1):
    x = np.c_[train.features[modality], np.ones(len(train))]
    y = 2.0 * train.labels - 1.0
    w = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ y)
    xv = np.c_[val.features[modality], np.ones(len(val))]
    return float(np.mean((xv @ w > 0) == (val.labels == 1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    args = parser.parse_args()
    train = load_data("mosi", "train", args.data_dir)
    val = load_data("mosi", "val", args.data_dir)
    print(f"{'modality':<8} val accuracy (ridge, {len(val)} utterances)")
    for modality in ("text", "audio", "video"):
        print(f"{modality:<8} {ridge_accuracy(train, val, modality):.3f}")


if __name__ == "__main__":
    main()
