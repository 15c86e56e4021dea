"""Training-step time and peak memory of fusion layers as modalities and width grow.

python benchmarks/fusion_scaling.py [--modalities 2,3,4,5,6]
    [--widths 16,32,64,128,256] [--layers tensor,low_rank,gmu,concat,transformer]
    [--batch 32] [--repeats 7] [--json]

Each configuration is one model: M vector inputs of width d -> fusion layer -> Dense(1),
MSE loss, Adam, trained by a compiled `tf.function` step (GradientTape + optimizer, as
Keras' TF `train_step`). Time: median over `--repeats` samples of the mean step time,
after a trace and two warm-up steps ("compile s": the first call, trace + graph
optimisation). Layers: TensorFusion (no weights; skipped, not run, above
`--max-elements` = prod (d + 1) * batch), LowRankFusion(units, rank), GMU(units),
ConcatFusion(units, relu) - the baseline, measured in the same run, every row gives
its ratio to it - and CrossModalTransformerFusion(units) (cross mode, one block per
ordered pair; each vector is one token). "params" is analytic (checked against
`count_params()` for every measured row); growth laws are least-squares fits of log y.

Memory is the host resident set (CPU only: GPUs are hidden). One server process imports
TensorFlow once and forks a fresh child per configuration (so no state is shared between
configurations); glibc malloc is told to mmap every block above 128 KiB and to trim
the heap, so freed tensors leave the RSS. In the child, read from /proc/self/status:
    peak MiB = VmHWM during the timed steps - VmRSS before the model was built
               (weights, Adam slots, the traced step and the step's live tensors);
    step MiB = VmHWM during the timed steps - VmRSS just before them (the transient
               working memory of one step; near 0 when it fits in pages already held).
The high-water mark is reset before the timed steps (`echo 5 > /proc/self/clear_refs`).
"""

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np

LAYERS = ("tensor", "low_rank", "gmu", "concat", "transformer")
BASELINE = "concat"
MIB = 2**20


def analytic(layer, m, d, units, rank):
    """(fused features per example, trainable parameters of fusion + Dense(1) head)."""
    u = units
    if layer == "tensor":  # no weights: the head sees prod (d + 1) features
        fused, params = (d + 1) ** m, 0
    elif layer == "low_rank":  # factors rank x (d + 1) x u per modality, w, b
        fused, params = u, rank * m * (d + 1) * u + rank + u
    elif layer == "gmu":  # M tanh projections, gate on [x_1; ...; x_M]
        gates = 1 if m == 2 else m
        fused, params = u, m * (d + 1) * u + (m * d + 1) * gates * u
    elif layer == "concat":
        fused, params = u, (m * d + 1) * u
    else:  # cross-modal transformer: projections, a block + norm per ordered pair
        pairs = m * (m - 1)
        block = 4 * u * u + 6 * u + (u + 1) * 2 * u + (2 * u + 1) * u
        fused, params = pairs * u, m * (d + 1) * u + pairs * (block + 2 * u)
    return fused, params + fused + 1


def build_model(layer, m, d, units, rank):
    import keras

    from mmzoo import layers

    fusion = {
        "tensor": lambda: layers.TensorFusion(),
        "low_rank": lambda: layers.LowRankFusion(units, rank=rank),
        "gmu": lambda: layers.GatedMultimodalUnit(units),
        "concat": lambda: layers.ConcatFusion(units, activation="relu"),
        "transformer": lambda: layers.CrossModalTransformerFusion(units),
    }[layer]()
    inputs = [keras.Input((d,), name=f"x{i}") for i in range(m)]
    return keras.Model(inputs, keras.layers.Dense(1)(fusion(inputs)))


def _status_bytes(key):
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M).group(1)) * 1024


def measure(cfg):
    """One configuration, in a fresh forked child: times and memory."""
    import keras
    import tensorflow as tf  # the compiled step is a tf.function, as in Model.fit

    (tf.constant(1.0) + 1.0).numpy()  # start the TF runtime before the baseline
    rss_start = _status_bytes("VmRSS")
    keras.utils.set_random_seed(0)
    m, d, batch = cfg["modalities"], cfg["width"], cfg["batch"]
    model = build_model(cfg["layer"], m, d, cfg["units"], cfg["rank"])
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    xs = [tf.random.normal((batch, d)) for _ in range(m)]
    y = tf.random.normal((batch, 1))

    @tf.function(autograph=False)  # no tensor-dependent Python control flow
    def train_step(xs, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(xs, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(grads, model.trainable_variables)
        return loss

    times = []
    for _ in range(3):  # trace and optimise the graph, then warm up
        start = time.perf_counter()
        train_step(xs, y).numpy()
        times.append(time.perf_counter() - start)
    inner = max(1, min(1000, math.ceil(cfg["min_sample_s"] / times[-1])))
    rss_before = _status_bytes("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    samples = []
    for _ in range(cfg["repeats"]):
        start = time.perf_counter()
        for _ in range(inner):
            loss = train_step(xs, y)
        loss.numpy()
        samples.append((time.perf_counter() - start) / inner)
    peak = _status_bytes("VmHWM")
    return {
        "ms_per_step": 1e3 * float(np.median(samples)),
        "steps_per_sample": inner,
        "compile_s": times[0],
        "counted_params": int(model.count_params()),
        "peak_mib": (peak - rss_start) / MIB,
        "step_mib": (peak - rss_before) / MIB,
    }


def serve():
    """Read configurations (JSON lines), fork a child for each, write results."""
    protocol = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not the protocol
    import keras  # noqa: F401  imported once; no TF op runs before the fork
    import tensorflow  # noqa: F401

    import mmzoo.layers  # noqa: F401

    for line in sys.stdin:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            try:
                result = measure(json.loads(line))
            except BaseException as e:  # report it; the next configuration goes on
                result = {"error": f"{type(e).__name__}: {e}"[:300]}
            with os.fdopen(write_end, "w") as f:
                json.dump(result, f)
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as f:
            text = f.read()
        _, status = os.waitpid(pid, 0)
        protocol.write(text or json.dumps({"error": f"child died (status {status})"}))
        protocol.write("\n")
        protocol.flush()


class Server:
    def __init__(self):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", KERAS_BACKEND="tensorflow",
                   CUDA_VISIBLE_DEVICES="-1", MALLOC_MMAP_THRESHOLD_="131072",
                   MALLOC_TRIM_THRESHOLD_="131072")
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        self.log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve"], env=env, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log)

    def __call__(self, cfg):
        self.proc.stdin.write(json.dumps(cfg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.log.seek(0)
            raise RuntimeError("benchmark server died:\n" + self.log.read()[-3000:])
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


def fit(xs, ys, log_x):
    """Slope of log(y) against x (or log x), and R^2; None below two points."""
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and y > 0]
    if len(pts) < 2:
        return None
    x = np.array([p[0] for p in pts], float)
    x, ly = (np.log(x) if log_x else x), np.log([p[1] for p in pts])
    slope, intercept = np.polyfit(x, ly, 1)
    ss = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1 - float(np.sum((ly - slope * x - intercept) ** 2)) / ss if ss else 1.0
    return {"slope": float(slope), "r2": r2, "points": len(pts)}


def growth(rows, key, layers):
    """Growth laws per layer and metric: y ~ b^M and y ~ M^p, or y ~ d^p."""
    fits = []
    for layer in layers:
        own = [r for r in rows if r["layer"] == layer]
        for metric in ("ms_per_step", "params", "peak_mib"):
            xs, ys = [r[key] for r in own], [r.get(metric) for r in own]
            power = fit(xs, ys, log_x=True)
            entry = {"layer": layer, "metric": metric,
                     "exponent": power and power["slope"], "exponent_r2": power
                     and power["r2"], "points": power and power["points"]}
            if key == "modalities":
                geo = fit(xs, ys, log_x=False)
                entry.update(base=geo and math.exp(geo["slope"]),
                             base_r2=geo and geo["r2"])
            fits.append(entry)
    return fits


def run_sweep(server, key, values, fixed, layers, args, cache):
    rows = []
    for value in values:
        m, d = (value, fixed) if key == "modalities" else (fixed, value)
        for layer in layers:
            fused, params = analytic(layer, m, d, args.units, args.rank)
            row = {key: value, "layer": layer, "modalities": m, "width": d,
                   "fused": fused, "params": params}
            if layer == "tensor" and fused * args.batch > args.max_elements:
                row["skipped"] = f"skipped ({fused} fused features)"
            else:
                if (layer, m, d) not in cache:
                    print(f"measuring {layer} M={m} d={d}", file=sys.stderr, flush=True)
                    cache[layer, m, d] = server(dict(
                        layer=layer, modalities=m, width=d, batch=args.batch,
                        units=args.units, rank=args.rank, repeats=args.repeats,
                        min_sample_s=args.min_sample_ms / 1e3))
                row.update(cache[layer, m, d])
                if "error" not in row and row["counted_params"] != params:
                    raise AssertionError(f"analytic params {params} != counted {row}")
            rows.append(row)
        base = next(r for r in rows if r[key] == value and r["layer"] == BASELINE)
        for r in rows:
            if r[key] == value and "ms_per_step" in r and "ms_per_step" in base:
                r["time_vs_concat"] = r["ms_per_step"] / base["ms_per_step"]
                r["peak_vs_concat"] = r["peak_mib"] / base["peak_mib"]
    fixed_name = "width" if key == "modalities" else "modalities"
    return {"key": key, "fixed": {fixed_name: fixed}, "rows": rows,
            "fits": growth(rows, key, layers)}


def _num(v, fmt):
    return "-" if v is None else format(v, fmt)


def print_sweep(sweep, args):
    key, rows = sweep["key"], sweep["rows"]
    [(fixed_name, fixed)] = sweep["fixed"].items()
    print(f"\n== {key} sweep ({fixed_name} {fixed}, batch {args.batch}, units "
          f"{args.units}, rank {args.rank}; median of {args.repeats} samples) ==")
    head = (f"{'M' if key == 'modalities' else 'd':>5}  {'layer':<11} {'fused':>10} "
            f"{'params':>11} {'ms/step':>8} {'x concat':>8} {'peak MiB':>9} "
            f"{'x concat':>8} {'step MiB':>8} {'compile s':>9}")
    print(head)
    print("-" * len(head))
    for r in rows:
        start = f"{r[key]:>5}  {r['layer']:<11} {r['fused']:>10} {r['params']:>11} "
        if "skipped" in r or "error" in r:
            print(start + (r.get("skipped") or f"failed ({r['error']})"))
            continue
        print(start + f"{r['ms_per_step']:>8.3f} "
              f"{_num(r.get('time_vs_concat'), '8.2f')} {r['peak_mib']:>9.2f} "
              f"{_num(r.get('peak_vs_concat'), '8.2f')} "
              f"{r['step_mib']:>8.2f} {r['compile_s']:>9.1f}")
    law = ("y ~ b^M (base b) and y ~ M^p (exponent p)" if key == "modalities"
           else "y ~ d^p (exponent p)")
    print(f"\ngrowth with {key}: least squares on log y, {law}; time and peak on "
          "the measured points, params (analytic) on all")
    print(f"{'layer':<11} {'metric':<11} {'points':>6} "
          + (f"{'base b':>8} {'R^2':>6} " if key == "modalities" else "")
          + f"{'exp p':>7} {'R^2':>6}")
    for f in sweep["fits"]:
        cells = f"{f['layer']:<11} {f['metric']:<11} {_num(f['points'], '6d')} "
        if key == "modalities":
            cells += f"{_num(f['base'], '8.2f')} {_num(f['base_r2'], '6.3f')} "
        print(cells + f"{_num(f['exponent'], '7.2f')} {_num(f['exponent_r2'], '6.3f')}")


def parse_args(argv):
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modalities", type=ints, default=[2, 3, 4, 5, 6])
    parser.add_argument("--widths", type=ints, default=[16, 32, 64, 128, 256])
    parser.add_argument("--layers", default=",".join(LAYERS))
    parser.add_argument("--fixed-width", type=int, default=32)
    parser.add_argument("--fixed-modalities", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--units", type=int, default=32)
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--min-sample-ms", type=float, default=20.0,
                        help="steps per timed sample: enough to last this long")
    parser.add_argument("--max-elements", type=float, default=5e7,
                        help="skip TensorFusion above prod(d + 1) * batch elements")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    layers = args.layers.split(",")
    unknown = sorted(set(layers) - set(LAYERS))
    if unknown:
        parser.error(f"unknown --layers {unknown}; choose from {list(LAYERS)}")
    # The baseline is always measured in the same run.
    args.layers = [n for n in LAYERS if n in layers or n == BASELINE]
    return args


def main(argv=None):
    args = parse_args(argv)
    server, cache = Server(), {}
    try:
        sweeps = [
            run_sweep(server, "modalities", args.modalities, args.fixed_width,
                      args.layers, args, cache),
            run_sweep(server, "width", args.widths, args.fixed_modalities,
                      args.layers, args, cache),
        ]
    finally:
        server.close()
    result = {"config": {k: v for k, v in vars(args).items() if k != "json"},
              "memory": "host RSS (MiB): peak = VmHWM in timed steps - VmRSS before "
                        "build; step = VmHWM in timed steps - VmRSS just before them",
              "sweeps": sweeps}
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for sweep in sweeps:
            print_sweep(sweep, args)
    return result


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        serve()
    else:
        main()
