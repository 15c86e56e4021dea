"""A killed `train_run` resumes from its last backup and ends where an
uninterrupted run ends: same weights (1e-6), same history.

Each run is killed with SIGKILL from inside (the `MMZOO_TEST_KILL_AT` hook of
`mmzoo.training.backup`) at several points in a row -- mid-epoch, at an epoch
boundary, in the middle of a backup write, between the renames of a backup
swap -- and each restart resumes the previous one's backup.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny_runs

from mmzoo import envvars
from mmzoo.errors import ConfigError
from mmzoo.training import backup

HERE = Path(__file__).resolve().parent

# (kill point, (epoch, step) of the backup the next start resumes from)
KILLS = {
    # gmu: 5 steps per epoch, a backup every 2 global steps and at epoch ends.
    "gmu": [
        ("step:3", (0, 2)),  # mid-epoch: step 3 is replayed from step 2
        ("epoch:0", (1, 0)),  # right after the epoch-end backup
        ("backup:2", (1, 1)),  # 2nd write of this start (global step 8) is torn
        ("swap:1", (1, 1)),  # old backup renamed to backup.prev, new not in place
    ],
    # mvae: 4 steps per epoch, a backup every 3 global steps and at epoch ends.
    "mvae": [
        ("step:5", (1, 0)),  # mid-epoch 1, the last backup at the epoch end
        ("backup:2", (1, 2)),  # 2nd write (end of epoch 1) torn: step 6 is kept
        ("epoch:1", (2, 0)),  # right after the epoch-end backup
    ],
    # gmu_spe4: executions end at steps 4 and 5 of each epoch; a backup every
    # 3 steps is taken at the first execution end past a multiple of 3.
    "gmu_spe4": [
        ("step:4", (0, 4)),  # global step 4 crossed 3
        ("step:9", (1, 4)),  # global step 9 (epoch 1, step 4) crossed 6 and 9
    ],
    # mmim: as mvae; its estimator optimizer's moments must be restored too.
    "mmim": [
        ("step:5", (1, 0)),
        ("epoch:1", (2, 0)),
    ],
}


def _killed_run(name, run_dir, kill_at):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", envvars.TEST_KILL_AT: kill_at}
    result = subprocess.run(
        [sys.executable, str(HERE / "tiny_runs.py"), name, str(run_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]


def _resume_point(run_dir):
    path = backup.latest_backup(run_dir)
    if path is None:
        return (0, 0)
    meta = json.loads((path / "meta.json").read_text())
    return (meta["epoch"], meta["step"])


@pytest.mark.parametrize("name", sorted(KILLS))
def test_killed_runs_resume_to_the_same_weights(name, tmp_path):
    reference = tiny_runs.train(name, tmp_path / "reference")

    run_dir = tmp_path / "killed"
    for i, (kill_at, resume_from) in enumerate(KILLS[name]):
        _killed_run(name, run_dir, kill_at)
        assert not (run_dir / "model.keras").exists()
        assert _resume_point(run_dir) == resume_from, kill_at
        if kill_at.startswith(("backup", "swap")):  # a torn write is left over
            assert list(run_dir.glob(backup.TMP_PREFIX + "*")), kill_at
        if kill_at.startswith("swap"):  # only the previous backup is complete
            assert (run_dir / backup.PREVIOUS).is_dir()
            assert not (run_dir / backup.BACKUP).exists()
        if i == 0:
            # A backup of another config is refused, naming the difference.
            with pytest.raises(
                ConfigError,
                match=r"holds a backup of another .*"
                r"train.batch_size was \d+, now 7",
            ):
                tiny_runs.train(name, run_dir, **{"train.batch_size": 7})
    # The backup frequency is not compared: a resume may change it.
    resumed = tiny_runs.train(name, run_dir, **{"train.backup_every": 0})

    want, got = reference.model.get_weights(), resumed.model.get_weights()
    assert len(want) == len(got)
    for a, b in zip(want, got):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert (run_dir / "history.csv").read_text().splitlines()[0] == (
        (tmp_path / "reference" / "history.csv").read_text().splitlines()[0]
    )
    for key, values in reference.history.items():
        np.testing.assert_allclose(resumed.history[key], values, rtol=1e-6, err_msg=key)
    assert resumed.metrics == pytest.approx(reference.metrics, rel=1e-6)
    leftovers = {p.name for p in run_dir.iterdir()}
    assert leftovers == {
        "config.yaml",
        "history.csv",
        "logs",
        "metrics.json",
        "model.keras",
    }
    # The finished run is recognised: not trained again.
    with pytest.raises(ConfigError, match="finished run"):
        tiny_runs.train(name, run_dir)
