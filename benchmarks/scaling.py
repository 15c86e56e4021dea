"""Data-parallel scaling on paper: gradient bytes per step, measured step time,
and the projected efficiency of ring all-reduce at 8, 64 and 512 GPUs.

    python benchmarks/scaling.py --data-dir ../shared/data [--models gmu,mvae] \
        [--repeats 5] [--json]

For every zoo model (its zoo config, its own data source, its own batch size):

- `params`: trainable parameters; `grad MB`: the float32 gradient one replica
  contributes to the all-reduce of every step (4 bytes per trainable
  parameter; under mixed precision the variables, hence the gradients that
  are reduced, stay float32).
- `step ms`: the measured time of one training step on this machine (the
  compiled Keras train function on one batch, after warm-up, median over
  `--repeats` runs of 10 steps).
- Ring all-reduce of G bytes over N replicas takes

      t_comm(N) = 2 (N - 1) / N * G / bandwidth + 2 (N - 1) * latency

  (each replica sends and receives 2 (N - 1) / N of the gradient, in
  2 (N - 1) messages; `--latency-us`, default 5 us per message). Without
  overlap of communication and computation, the data-parallel efficiency is
  E(N) = t_step / (t_step + t_comm(N)); the table prints it at 8, 64 and 512
  replicas and 100 and 400 Gb/s, for the measured step time, and the
  break-even step time t_comm(512) below which a step spends more time
  exchanging gradients than computing them at 512 replicas.
- `steps/epoch @512`: train examples / (512 x batch): where it is below 1,
  one step of 512 replicas holds more than the whole training set.

Never asserts on time.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

import mmzoo  # noqa: E402
from mmzoo.builder import build_from_config  # noqa: E402
from mmzoo.data import load_data, to_dataset  # noqa: E402
from mmzoo.training.trainer import data_options  # noqa: E402

REPLICAS = (8, 64, 512)
BANDWIDTHS_GBPS = (100, 400)


def ring_seconds(grad_bytes, replicas, gbps, latency_s):
    """t_comm of a ring all-reduce (see the module docstring)."""
    bandwidth = gbps * 1e9 / 8  # bytes per second
    return (
        2 * (replicas - 1) / replicas * grad_bytes / bandwidth
        + 2 * (replicas - 1) * latency_s
    )


def step_seconds(model, data, batch_size, repeats):
    # Finite datasets: the captioner's `fit` reads its dataset to the end (to
    # cache the frozen encoder's features).
    ds = to_dataset(data.subset(np.arange(min(len(data), batch_size))), batch_size)
    model.fit(ds.repeat(3), epochs=1, verbose=0)  # trace, warm up
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(ds.repeat(10), epochs=1, verbose=0)
        samples.append((time.perf_counter() - start) / 10)
    return statistics.median(samples)


def measure(name, data_dir, repeats):
    cfg = mmzoo.load_config(name)
    source, options = data_options(cfg)
    data = load_data(source, "train", data_dir, **options)
    model = build_from_config(cfg, data=data)
    batch_size = int(cfg.train["batch_size"])
    params = int(sum(np.prod(v.shape) for v in model.trainable_variables))
    return {
        "params": params,
        "grad_bytes": 4 * params,
        "batch_size": batch_size,
        "train_examples": len(data),
        "step_s": step_seconds(model, data, batch_size, repeats),
    }


def project(row, latency_s):
    out = {}
    for gbps in BANDWIDTHS_GBPS:
        for n in REPLICAS:
            t = ring_seconds(row["grad_bytes"], n, gbps, latency_s)
            out[f"E{n}@{gbps}"] = row["step_s"] / (row["step_s"] + t)
        out[f"breakeven_ms@{gbps}"] = 1e3 * ring_seconds(
            row["grad_bytes"], 512, gbps, latency_s
        )
    out["steps_per_epoch@512"] = row["train_examples"] / (512 * row["batch_size"])
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data directory ($MMZOO_DATA_DIR)")
    parser.add_argument("--models", help="comma-separated zoo models (default all)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency-us", type=float, default=5.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else mmzoo.list_models()
    rows = {}
    for name in names:
        row = measure(name, args.data_dir, args.repeats)
        row.update(project(row, args.latency_us * 1e-6))
        rows[name] = row
    if args.json:
        print(json.dumps(rows))
        return
    head = (
        "| model | params | grad MB | batch | step ms | "
        + " | ".join(f"E{n} {g}G" for g in BANDWIDTHS_GBPS for n in REPLICAS)
        + " | break-even ms @512 100G / 400G | steps/epoch @512 |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, r in rows.items():
        effs = " | ".join(
            f"{r[f'E{n}@{g}']:.2f}" for g in BANDWIDTHS_GBPS for n in REPLICAS
        )
        print(
            f"| {name} | {r['params']:,} | {r['grad_bytes'] / 1e6:.2f} | "
            f"{r['batch_size']} | {1e3 * r['step_s']:.1f} | {effs} | "
            f"{r['breakeven_ms@100']:.2f} / {r['breakeven_ms@400']:.2f} | "
            f"{r['steps_per_epoch@512']:.2f} |"
        )


if __name__ == "__main__":
    main()
