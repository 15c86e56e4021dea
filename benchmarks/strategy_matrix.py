"""Every zoo model through `mmzoo train` with every `--strategy`.

For each zoo config and strategy, one `mmzoo train NAME --epochs E` process
(two for `multi_worker`: workers 0 and 1 on 127.0.0.1, free ports, the same
`--out`), with a hard timeout; `mirrored` runs over two CPU replicas
(`MMZOO_CPU_REPLICAS=2`) when there is no GPU. Configs that name pretrained
downloads (`gmu_mosi_hub`, `gmu_mosi_bert`, `captioner_hub`) run with the tiny
local stand-ins of `mmzoo.testing.offline_encoders`. Prints one row per
(model, strategy): ok or the last error line, wall seconds (TensorFlow's
start-up included), replicas and the validation metrics of the run; `--json`
prints one object instead. The first run of a data source prepares its records
under `--tfds-dir` (default: a temporary directory), later runs read them.

    python benchmarks/strategy_matrix.py --data-dir ../shared/data
    python benchmarks/strategy_matrix.py --models gmu,mvae --strategies mirrored
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml

from mmzoo import envvars
from mmzoo.testing.processes import free_ports, run_workers, worker_tf_config

STRATEGIES = ("one_device", "mirrored", "multi_worker")


def _sets(name, encoders_dir):
    from mmzoo.testing.offline_encoders import offline_overrides

    sets = []
    for key, value in offline_overrides(name, encoders_dir).items():
        text = json.dumps(value) if isinstance(value, dict) else str(value)
        sets += ["--set", f"{key}={text}"]
    return sets


def _last_error(stderr):
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return lines[-1][:160] if lines else "no output"


def run_one(name, strategy, args, out_dir, env):
    run = out_dir / f"{name}-{strategy}"
    cmd = [sys.executable, "-m", "mmzoo.cli", "train", name, "--out", str(run)]
    cmd += ["--epochs", str(args.epochs), "--strategy", strategy, "--overwrite"]
    if args.data_dir:
        cmd += ["--data-dir", args.data_dir]
    cmd += _sets(name, out_dir / "encoders")
    env = {**env, "TF_CPP_MIN_LOG_LEVEL": "3"}
    workers = 2 if strategy == "multi_worker" else 1
    if strategy == "mirrored":
        env[envvars.CPU_REPLICAS] = "2"
    envs = [env]
    if strategy == "multi_worker":
        ports = free_ports(workers)
        envs = [
            {**env, "TF_CONFIG": worker_tf_config(ports, i)} for i in range(workers)
        ]
    start = time.perf_counter()
    results, timed_out = run_workers([cmd] * workers, envs, timeout=args.timeout)
    seconds = time.perf_counter() - start
    status, metrics = "ok", {}
    if timed_out:
        status = f"timeout after {args.timeout} s"
    for r in results:
        if r.returncode != 0 and status == "ok":
            status = f"exit {r.returncode}: {_last_error(r.stderr)}"
    if status == "ok":
        lines = results[0].stdout.strip().splitlines()
        metrics = json.loads(lines[-1])["val"]
    return {
        "status": status,
        "seconds": round(seconds, 1),
        "workers": workers,
        "replicas": 2 if strategy != "one_device" else 1,
        "val": metrics,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated zoo configs (default: all)")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--data-dir", default=os.environ.get(envvars.DATA_DIR))
    parser.add_argument("--tfds-dir", help="records directory (default: a temp dir)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    root = Path(__file__).resolve().parent.parent
    names = (
        args.models.split(",")
        if args.models
        else sorted(p.stem for p in (root / "zoo_configs").glob("*.yaml"))
    )
    strategies = args.strategies.split(",")
    out_dir = Path(tempfile.mkdtemp(prefix="mmzoo-strategies-"))
    env = dict(os.environ)
    env[envvars.TFDS_DIR] = args.tfds_dir or str(out_dir / "records")
    results = {}
    for name in names:
        yaml.safe_load((root / "zoo_configs" / f"{name}.yaml").read_text())  # exists
        for strategy in strategies:
            result = run_one(name, strategy, args, out_dir, env)
            results.setdefault(name, {})[strategy] = result
            if not args.json:
                val = result["val"]
                metric = (
                    f"acc {val['accuracy']:.3f}"
                    if "accuracy" in val
                    else f"BLEU-1 {val['bleu_1']:.3f}"
                    if "bleu_1" in val
                    else f"loss {val['loss']:.3f}"
                    if "loss" in val
                    else ""
                )
                print(
                    f"{name:16s} {strategy:12s} {result['status'][:70]:70s} "
                    f"{result['seconds']:7.1f} s  {metric}",
                    flush=True,
                )
    if args.json:
        print(json.dumps(results))
    failed = sum(r["status"] != "ok" for m in results.values() for r in m.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
