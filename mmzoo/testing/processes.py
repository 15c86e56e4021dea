"""Helpers for tests and benchmarks that start worker processes."""

import json
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


def free_ports(n):
    """`n` distinct TCP ports free on 127.0.0.1 right now (for TF_CONFIG)."""
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def worker_tf_config(ports, index):
    """The `TF_CONFIG` of worker `index` in a cluster of workers on
    127.0.0.1 at `ports`."""
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    return json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})


@dataclass
class WorkerResult:
    returncode: int  # negative: ended by a signal (killed at the timeout)
    stdout: str
    stderr: str


def run_workers(commands, envs, timeout, cwd=None):
    """Run one process per `(command, env)` at once and wait for all of them,
    at most `timeout` seconds in all; whatever is still running then is
    killed and reaped. Returns `(results, timed_out)`, a `WorkerResult` per
    process in order.

    Output goes to temporary files, not pipes: the workers of a multi-worker
    run wait for each other, so one worker blocked on a full pipe (Keras'
    progress bar writes hundreds of kilobytes per epoch) while its caller
    waits on another would hang them all.
    """
    with tempfile.TemporaryDirectory(prefix="mmzoo-workers-") as tmp:
        procs, files = [], []
        deadline = time.monotonic() + timeout
        timed_out = False
        try:
            for i, (command, env) in enumerate(zip(commands, envs, strict=True)):
                out = open(f"{tmp}/{i}.out", "w+")
                err = open(f"{tmp}/{i}.err", "w+")
                files.append((out, err))
                procs.append(
                    subprocess.Popen(
                        command, env=env, cwd=cwd, stdout=out, stderr=err, text=True
                    )
                )
            for p in procs:
                try:
                    p.wait(timeout=max(deadline - time.monotonic(), 0.01))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    break
        finally:
            for p in procs:  # reaped whatever happened
                if p.poll() is None:
                    p.kill()
                    p.wait()
            results = []
            for p, (out, err) in zip(procs, files):
                out.seek(0)
                err.seek(0)
                results.append(WorkerResult(p.returncode, out.read(), err.read()))
                out.close()
                err.close()
    return results, timed_out
