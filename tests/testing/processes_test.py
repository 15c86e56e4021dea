"""`mmzoo.testing.processes.run_workers`: workers that wait for each other
while writing much output finish; a hung worker is killed at the timeout."""

import json
import os
import sys

from mmzoo.testing.processes import run_workers, worker_tf_config

# Worker 1 writes far more than a pipe holds (64 KiB), then creates a file;
# worker 0 waits for that file. Read one pipe after the other, worker 1 would
# block on its full pipe and worker 0 would wait forever: the multi-worker
# run of a long epoch hung that way.
_WAITER = """import os, time
while not os.path.exists({flag!r}):
    time.sleep(0.05)
print('done')"""
_WRITER = "import sys\nsys.stdout.write('x' * 1_000_000)\nopen({flag!r}, 'w').close()"


def test_workers_that_wait_for_each_other_do_not_hang_on_their_output(tmp_path):
    flag = str(tmp_path / "flag")
    commands = [
        [sys.executable, "-c", _WAITER.format(flag=flag)],
        [sys.executable, "-c", _WRITER.format(flag=flag)],
    ]
    results, timed_out = run_workers(commands, [dict(os.environ)] * 2, timeout=60)
    assert not timed_out
    assert [r.returncode for r in results] == [0, 0]
    assert results[0].stdout.strip() == "done"
    assert len(results[1].stdout) == 1_000_000


def test_a_hung_worker_is_killed_at_the_timeout():
    commands = [
        [
            sys.executable,
            "-c",
            "import sys, time; sys.stderr.write('started'); sys.stderr.flush(); "
            "time.sleep(600)",
        ],
        [sys.executable, "-c", "print('quick')"],
    ]
    results, timed_out = run_workers(commands, [dict(os.environ)] * 2, timeout=5)
    assert timed_out
    assert results[0].returncode < 0  # killed, and reaped
    assert results[0].stderr == "started"
    assert results[1].returncode == 0 and results[1].stdout.strip() == "quick"


def test_worker_tf_config_names_the_whole_cluster_and_the_task():
    config = json.loads(worker_tf_config([1234, 5678], 1))
    assert config == {
        "cluster": {"worker": ["127.0.0.1:1234", "127.0.0.1:5678"]},
        "task": {"type": "worker", "index": 1},
    }
