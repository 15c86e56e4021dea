"""Driver for the distribution tests, run in a subprocess (the CPU is split
into two logical devices before TensorFlow starts, which a test process that
already started TensorFlow cannot do).

    python distributed_runs.py gmu,mvae,mmim

For each tiny run (see `tiny_runs`): train it on one device with a global
batch of 2B, and with `MirroredStrategy` over the two logical CPUs with B per
replica; print one JSON line `{name: max |weight difference|}`. Dropout is off
(each replica draws its own masks), MVAE trains on all subsets (sampled
subsets are drawn per replica) and clipnorm is off (Keras clips each replica's
gradient before the sum); the learning rate is not rescaled.
"""

import json
import sys
import tempfile

import numpy as np
import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration()] * 2,
)

import tiny_runs  # noqa: E402

from mmzoo.training.trainer import train_run  # noqa: E402


def run(name, strategy, batch_size):
    cfg = tiny_runs.tiny_config(
        name,
        **tiny_runs.NO_DROPOUT[name],
        **{
            "train.strategy": strategy,
            "train.batch_size": batch_size,
            "train.lr_scaling": "none",
            "train.clipnorm": None,
            "train.epochs": 1,
        },
    )
    with tempfile.TemporaryDirectory() as tmp:
        return train_run(cfg, f"{tmp}/run", verbose=0).model.get_weights()


def main(names):
    out = {}
    for name in names:
        per_replica = tiny_runs.RUNS[name][1]["train.batch_size"] // 2
        single = run(name, "one_device", 2 * per_replica)
        mirrored = run(name, "mirrored", per_replica)
        out[name] = max(float(np.max(np.abs(a - b))) for a, b in zip(single, mirrored))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1].split(","))
