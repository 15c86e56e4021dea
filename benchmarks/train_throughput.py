"""Training throughput: Keras defaults vs mmzoo's tuned configuration, per zoo model.

    python benchmarks/train_throughput.py                       # every zoo model
    python benchmarks/train_throughput.py --models gmu,tfn --steps 32 --json

For each zoo model (`mmzoo.list_models()`, or `--models`), the same architecture
(the zoo config, untrained) is trained on the same synthetic samples at the
config's `train.batch_size`, two ways, in one process:

- baseline, Keras as a user first writes it: float32, `jit_compile=False`,
  `steps_per_execution=1`, `model.fit(x=dict_of_numpy_arrays, y=labels,
  batch_size=B)` (Keras shuffles and slices the arrays every epoch);
- tuned, mmzoo's configuration: a `tf.data` pipeline from the same arrays
  (the arrays held once as tensors; shuffled index batches (`drop_remainder`)
  -> `tf.gather` of whole batches -> `prefetch(AUTOTUNE)`), repeated, with
  `steps_per_epoch` = `--steps`, so that one iterator serves every epoch (not
  for the captioner, whose `fit` reads its dataset to the end first: it gets a
  finite one); `steps_per_execution=--spe` (32); `--jit`: `auto` (default)
  turns XLA on only with a GPU, like Keras' own `jit_compile="auto"` (on this
  2-core CPU XLA made the small models and the convolutional MVAE slower),
  `on` forces `jit_compile=True` where the model supports it (a model with a
  layer that declares `supports_jit = False`, or whose step XLA cannot
  compile, falls back to `jit_compile=False`, and the table says so); built
  under `--precision` (float32 by default: bfloat16 on CPU is usually slower;
  use `mixed_bfloat16` on a GPU).

Each run is one `fit` of `1 + --repeats` epochs of `--steps` batches: the first
epoch is a warm-up (tracing, XLA compilation) and is not timed; samples/s =
samples per epoch / median time of the other epochs (wall time from
`on_epoch_begin` to `on_epoch_end`). Ratio = tuned / baseline.

Inputs are synthetic random arrays of the shapes of each zoo config's inputs
(MOSI widths 73/100/100 for the MOSI fusion models, digits 32x32 / 28x28 / 61x13
for `mvae`, 28x28 + one-hot label for `mvae_mnist`, 32x32 RGB images and random
captions for `captioner`, random transcripts for `mmim`), so no data set is
needed; throughput does not depend on the values. The captioner's tuned `fit`
encodes every distinct image once with its frozen encoder (mmzoo's feature
cache, only used with a `tf.data` input) and trains the decoder on the features;
the baseline runs the frozen encoder at every step.

Prints a table (model, batch, baseline samples/s, tuned samples/s, ratio, XLA
used by the tuned run, and why not where it was asked for); with
`--json`, one object `{model: {"baseline_samples_per_s", "tuned_samples_per_s",
"ratio", ...}}`. Timings on a shared machine are noisy: compare within a run.
"""

import argparse
import json
import os
import statistics
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmzoo  # noqa: E402
from mmzoo.models.base import compile_model  # noqa: E402
from mmzoo.training.callbacks import EpochTimer  # noqa: E402
from mmzoo.training.scale import PRECISIONS, precision_scope  # noqa: E402

# The untrained captioner's words: any list holding the start and end tokens.
CAPTION_WORDS = ["startseq", "endseq"] + [f"w{i}" for i in range(98)]
TEXT_WORDS = [f"word{i}" for i in range(200)]
# Architectures whose `fit` reads a `tf.data` input to its end first (the
# captioner encodes every image once): they get a finite dataset per epoch.
READS_DATASET = ("captioner",)


def _sentences(words, n, rng, length=(5, 15)):
    return np.asarray(
        [" ".join(rng.choice(words, rng.integers(*length))) for _ in range(n)],
        dtype=object,
    )


def build_overrides(name, rng):
    """Constructor overrides a zoo config needs without its data (vocabularies)."""
    cfg = mmzoo.load_config(name)
    if cfg.model == "captioner":
        return {"vocabulary": CAPTION_WORDS}
    if cfg.model == "mmim":
        from mmzoo.models.mmim.text import build_vocabulary

        return {"vocabulary": build_vocabulary(list(TEXT_WORDS))}
    return {}


def synthetic_data(model, n, seed=0):
    """`(x, y)`: a dict of random numpy inputs of the model's specs and labels."""
    rng = np.random.default_rng(seed)
    kinds = getattr(model, "modality_types", {}) or {}
    x = {}
    for key, spec in model.input.items():
        shape = (n,) + tuple(spec.shape[1:])
        if spec.dtype == "string":
            words = CAPTION_WORDS[2:] if key == "caption" else TEXT_WORDS
            x[key] = _sentences(words, n, rng)
        elif key == "presence":
            x[key] = np.ones(shape, "float32")
        elif key == "image" and len(shape) == 4:  # captioner pixels 0..255
            x[key] = rng.uniform(0, 255, shape).astype("float32")
        elif kinds.get(key) == "image":  # MVAE Bernoulli pixels in [0, 1]
            x[key] = rng.uniform(0, 1, shape).astype("float32")
        elif kinds.get(key) == "label":
            x[key] = np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], n)]
        else:
            x[key] = rng.normal(size=shape).astype("float32")
    if "caption" in x:
        y = x["caption"]
    else:
        y = rng.integers(0, int(getattr(model, "num_classes", 2)), n).astype("int32")
    return x, y


def build(name, overrides, precision, train):
    with precision_scope(precision):
        model = mmzoo.build(name, compile=False, **overrides)
        compile_model(model, train)
    return model


def tuned_dataset(x, y, batch_size, seed=0):
    """The tuned input pipeline: shuffled index batches gathered from the arrays.

    The arrays are held once in memory as tensors (the cache); every epoch
    shuffles the example indices, batches them (`drop_remainder`: one static
    batch shape, one trace) and gathers whole batches, which is cheaper than
    shuffling and batching element by element; `prefetch` overlaps the next
    batch with the current step.
    """
    n = len(y)
    xs = {k: tf.constant(v) for k, v in x.items()}
    ys = tf.constant(y)
    ds = tf.data.Dataset.range(n).cache()
    ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=True)

    def gather(i):
        return {k: tf.gather(v, i) for k, v in xs.items()}, tf.gather(ys, i)

    ds = ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _rate(timer, samples):
    timed = timer.times[1:]
    return samples / statistics.median(timed)


def _no_jit_layers(model):
    """Class names of the model's layers that declare `supports_jit = False`."""
    names = sorted(
        {type(x).__name__ for x in model._flatten_layers() if not x.supports_jit}
    )
    return names or ["(unknown)"]


def _first_line(error):
    text = f"{type(error).__name__}: {error}".strip()
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return type(error).__name__


def resolve_jit(option):
    """`--jit`: on, off, or auto (XLA only with a GPU, as Keras' own "auto")."""
    if option == "auto":
        return bool(tf.config.list_logical_devices("GPU"))
    return option == "on"


def measure(name, steps, repeats, spe, precision, jit=True, seed=0):
    """One row: baseline and tuned samples/s of zoo model `name`."""
    rng = np.random.default_rng(seed)
    overrides = build_overrides(name, rng)
    cfg = mmzoo.load_config(name, overrides)
    batch = int(cfg.train["batch_size"])
    samples = steps * batch
    epochs = 1 + repeats
    row = {"batch_size": batch, "samples_per_epoch": samples}

    # (a) Keras defaults.
    keras.utils.set_random_seed(seed)
    train = {**cfg.train, "jit_compile": False, "steps_per_execution": 1}
    model = build(name, overrides, "float32", train)
    x, y = synthetic_data(model, samples, seed)
    timer = EpochTimer()
    model.fit(x=x, y=y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer])
    row["baseline_samples_per_s"] = _rate(timer, samples)
    row["baseline_loss"] = float(timer.last_logs.get("loss", float("nan")))
    del model
    keras.backend.clear_session()

    # (b) mmzoo tuned: tf.data + steps_per_execution (+ XLA, --precision).
    row["jit_compile"] = jit
    row["precision"] = precision
    row["steps_per_execution"] = spe
    for use_jit in (True, False) if jit else (False,):
        keras.utils.set_random_seed(seed)
        train = {**cfg.train, "jit_compile": use_jit, "steps_per_execution": spe}
        model = build(name, overrides, precision, train)
        if use_jit and not model.jit_compile:  # a layer has supports_jit = False
            row["jit_compile"] = False
            row["xla_error"] = "Keras turned jit_compile off: layers without XLA " + (
                ", ".join(_no_jit_layers(model))
            )
        # One iterator for every epoch (a repeated dataset and steps_per_epoch):
        # no per-epoch iterator, shuffle and prefetch restart. Not for a model
        # whose `fit` reads the whole dataset first (the captioner's cache).
        persistent = cfg.model not in READS_DATASET
        data = tuned_dataset(x, y, batch, seed)
        timer = EpochTimer()
        try:
            model.fit(
                data.repeat() if persistent else data,
                steps_per_epoch=steps if persistent else None,
                epochs=epochs,
                verbose=0,
                callbacks=[timer],
            )
            break
        except Exception as e:  # XLA cannot compile this model: fall back
            if not use_jit:
                raise
            row["jit_compile"] = False
            row["xla_error"] = _first_line(e)
            del model
            keras.backend.clear_session()
    row["tuned_samples_per_s"] = _rate(timer, samples)
    row["tuned_loss"] = float(timer.last_logs.get("loss", float("nan")))
    row["ratio"] = row["tuned_samples_per_s"] / row["baseline_samples_per_s"]
    del model
    keras.backend.clear_session()
    return row


COLUMNS = (
    ("model", "model", "{:<16}"),
    ("batch_size", "batch", "{:>5}"),
    ("baseline_samples_per_s", "baseline/s", "{:>11.0f}"),
    ("tuned_samples_per_s", "tuned/s", "{:>10.0f}"),
    ("ratio", "ratio", "{:>7.2f}"),
    ("jit_compile", "xla", "{!s:>5}"),
)
HEADER = (
    ("model", "<16"),
    ("batch", ">5"),
    ("baseline/s", ">11"),
    ("tuned/s", ">10"),
    ("ratio", ">7"),
    ("xla", ">5"),
)


def _print_row(row):
    cells = []
    for key, _, fmt in COLUMNS:
        cells.append(fmt.format(row[key]))
    print(" ".join(cells), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--models", default=None, help="comma-separated zoo names (default: all)"
    )
    parser.add_argument("--steps", type=int, default=64, help="batches per epoch")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs")
    parser.add_argument("--spe", type=int, default=32, help="steps_per_execution")
    parser.add_argument("--precision", default="float32", choices=PRECISIONS)
    parser.add_argument(
        "--jit",
        default="auto",
        choices=("auto", "on", "off"),
        help="XLA in the tuned run; auto: only with a GPU (slower on CPU here)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1 or args.spe < 1:
        parser.error("--steps, --repeats and --spe must be positive")
    names = (
        [m.strip() for m in args.models.split(",") if m.strip()]
        if args.models
        else mmzoo.list_models()
    )
    unknown = sorted(set(names) - set(mmzoo.list_models()))
    if unknown:
        parser.error(f"unknown zoo models {unknown}; see mmzoo.list_models()")

    results = {}
    if not args.json:
        print(" ".join(f"{title:{width}}" for title, width in HEADER))
    for name in names:
        row = measure(
            name,
            args.steps,
            args.repeats,
            args.spe,
            args.precision,
            jit=resolve_jit(args.jit),
            seed=args.seed,
        )
        results[name] = row
        if not args.json:
            _print_row({"model": name, **row})
            if "xla_error" in row:
                print(f"  {name}: no XLA, jit_compile=False ({row['xla_error']})")
    if args.json:
        print(json.dumps(results))
    return results


if __name__ == "__main__":
    main()
    sys.exit(0)
