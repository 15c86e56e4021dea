"""Serving under load: exported SavedModels called from many threads at once.

    python benchmarks/serving_load.py                      # gmu, mvae, captioner
    python benchmarks/serving_load.py --models gmu --seconds 5 --threads 4 --json

For each model: build it from its zoo config (untrained weights: the outputs are
compared, not their quality), export it (the captioner with its image-bytes
`serving_default`), load the SavedModel in this process and call its serving
signature from `--threads` threads for `--seconds` seconds. Requests are drawn
from a pool of `--pool` batches of random sizes 1..`--max-batch` whose expected
answers the Keras model computed beforehand; every answer is checked against
them (`np.allclose`, rtol 1e-4, atol 1e-5; the captioner's captions exactly).
The resident memory (VmRSS) is read after a warm-up (each pool request once,
then `--warmup` seconds of the same threaded load) and at the end.

Prints one row per model: requests/s, examples/s, p50 and p99 latency, errors
(exceptions and wrong answers), RSS after warm-up and at the end, and growth.
Exits with status 1 when a model has errors or its RSS grew by 10% or more.
"""

import argparse
import json
import os
import sys
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mmzoo  # noqa: E402
from mmzoo.data.coco import decode_image  # noqa: E402
from mmzoo.export import export_saved_model, load_serving_signature  # noqa: E402
from mmzoo.export.saved_model import input_specs  # noqa: E402

DEFAULT_MODELS = "gmu,mvae,captioner"
MAX_GROWTH = 0.10
# The untrained captioner's words: any list holding the start and end tokens.
CAPTION_WORDS = ["startseq", "endseq"] + [f"w{i}" for i in range(98)]


def rss_mib():
    """Resident memory of this process (VmRSS), MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def _random_input(spec, n, rng):
    shape = (n,) + tuple(spec.shape[1:])
    if spec.name == "presence" or spec.dtype.is_bool:
        return (rng.random(shape) < 0.7).astype(spec.dtype.as_numpy_dtype)
    if spec.dtype.is_integer:
        return rng.integers(0, 2, shape).astype(spec.dtype.as_numpy_dtype)
    if spec.dtype == tf.string:
        return np.asarray(["a random text"] * int(np.prod(shape)), object).reshape(
            shape
        )
    return rng.normal(size=shape).astype(spec.dtype.as_numpy_dtype)


class Served:
    """A model, its exported signature and a pool of checked requests."""

    def __init__(self, name, workdir, pool, max_batch, seed):
        self.name = name
        rng = np.random.default_rng(seed)
        sizes = rng.integers(1, max_batch + 1, pool)
        if name == "captioner":
            self.model = mmzoo.build(name, vocabulary=CAPTION_WORDS)
            path = self.model.export_for_serving(os.path.join(workdir, name))
            self.requests = [self._caption_request(n, rng) for n in sizes]
        else:
            self.model = mmzoo.build(name)
            path = export_saved_model(self.model, os.path.join(workdir, name))
            specs = input_specs(self.model)
            self.requests = []
            for n in sizes:
                inputs = {k: _random_input(s, n, rng) for k, s in specs.items()}
                out = self.model(inputs, training=False)
                self.requests.append(
                    (inputs, {k: np.asarray(v) for k, v in out.items()})
                )
        self.signature = load_serving_signature(path)

    def _caption_request(self, n, rng):
        size = self.model.image_size
        raw = rng.integers(0, 256, (n, size + 8, size + 16, 3), "uint8")
        encoded = [
            (tf.io.encode_png if i % 2 else tf.io.encode_jpeg)(im).numpy()
            for i, im in enumerate(raw)
        ]
        images = np.stack([decode_image(b, size).numpy() for b in encoded])
        captions = self.model.caption(images)
        return {"image_bytes": np.asarray(encoded, object)}, {"captions": captions}

    def call(self, index):
        """Serve request `index`; True when the answer is the expected one."""
        inputs, expected = self.requests[index]
        out = self.signature(**inputs)
        if "captions" in expected:
            got = [c.decode() for c in out["captions"].numpy()]
            return got == expected["captions"]
        return all(
            np.allclose(out[k].numpy(), v, rtol=1e-4, atol=1e-5)
            for k, v in expected.items()
        )


def load(served, seconds, threads, seed):
    """Call `served` from `threads` threads for `seconds`; latencies, errors."""
    deadline = time.perf_counter() + seconds
    latencies, examples, errors, messages = [], [0], [0], []
    lock = threading.Lock()

    def worker(k):
        rng = np.random.default_rng([seed, k])
        mine, n_examples, n_errors = [], 0, 0
        while time.perf_counter() < deadline:
            index = int(rng.integers(len(served.requests)))
            start = time.perf_counter()
            try:
                ok = served.call(index)
            except Exception as e:  # counted, and the first few reported
                ok = False
                if len(messages) < 3:
                    messages.append(f"{type(e).__name__}: {str(e)[:300]}")
            mine.append(time.perf_counter() - start)
            n_examples += len(next(iter(served.requests[index][0].values())))
            n_errors += not ok
        with lock:
            latencies.extend(mine)
            examples[0] += n_examples
            errors[0] += n_errors

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    began = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - began
    return np.asarray(latencies), examples[0], errors[0], wall, messages


def measure(name, args, workdir):
    served = Served(name, workdir, args.pool, args.max_batch, args.seed)
    for i in range(len(served.requests)):  # traces every batch size once
        served.call(i)
    load(served, args.warmup, args.threads, args.seed + 1)
    warm = rss_mib()
    latencies, examples, errors, wall, messages = load(
        served, args.seconds, args.threads, args.seed + 2
    )
    end = rss_mib()
    return {
        "model": name,
        "threads": args.threads,
        "seconds": round(wall, 2),
        "requests": int(len(latencies)),
        "requests_per_s": round(len(latencies) / wall, 1),
        "examples_per_s": round(examples / wall, 1),
        "p50_ms": round(1000 * float(np.percentile(latencies, 50)), 2),
        "p99_ms": round(1000 * float(np.percentile(latencies, 99)), 2),
        "errors": int(errors),
        "rss_warm_mib": round(warm, 1),
        "rss_end_mib": round(end, 1),
        "growth_pct": round(100 * (end - warm) / warm, 2),
        "first_errors": messages,
    }


COLUMNS = [
    ("model", "model", "{:<10}"),
    ("requests_per_s", "req/s", "{:>8}"),
    ("examples_per_s", "ex/s", "{:>9}"),
    ("p50_ms", "p50 ms", "{:>8}"),
    ("p99_ms", "p99 ms", "{:>8}"),
    ("errors", "errors", "{:>6}"),
    ("rss_warm_mib", "RSS warm MiB", "{:>12}"),
    ("rss_end_mib", "RSS end MiB", "{:>11}"),
    ("growth_pct", "growth %", "{:>8}"),
]


def _row(values):
    return "  ".join(fmt.format(v) for (_, _, fmt), v in zip(COLUMNS, values))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=DEFAULT_MODELS, help="comma-separated")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds")
    parser.add_argument("--pool", type=int, default=16, help="distinct requests")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args(argv)

    rows = []
    if not args.json:
        print(_row([title for _, title, _ in COLUMNS]))
    with tempfile.TemporaryDirectory() as workdir:
        for name in [m.strip() for m in args.models.split(",") if m.strip()]:
            row = measure(name, args, workdir)
            rows.append(row)
            if not args.json:
                print(_row([row[key] for key, _, _ in COLUMNS]), flush=True)
                for message in row["first_errors"]:
                    print(f"  {name} error: {message}")
    failed = [
        r["model"] for r in rows if r["errors"] or r["growth_pct"] >= 100 * MAX_GROWTH
    ]
    if args.json:
        print(json.dumps({"rows": rows, "failed": failed}))
    elif failed:
        print(f"FAILED (errors, or RSS growth >= {MAX_GROWTH:.0%}): {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
