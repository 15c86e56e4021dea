"""A NaN or Inf loss term stops training with a message naming the term and
the step; the last good backup is kept; the CLI exits 2 with one line."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tiny_runs

from mmzoo.training import backup
from mmzoo.training.callbacks import NonFiniteLossError, StopOnNonFinite


def test_cli_stops_on_a_nan_loss_and_keeps_the_last_good_backup(tmp_path):
    run_dir = tmp_path / "run"
    # Step 1 (finite loss) moves the weights by ~1e38; the logits of step 2
    # overflow to inf and its loss is NaN.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmzoo.cli",
            "train",
            "gmu",
            "--set",
            "train.learning_rate=1.0e+38",
            "--set",
            "data.num_train=64",
            "--set",
            "data.num_val=16",
            "--set",
            "train.batch_size=16",
            "--set",
            "train.steps_per_execution=1",  # checked and backed up every step
            "--epochs",
            "2",
            "--backup-every",
            "1",
            "--out",
            run_dir,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        timeout=300,
    )
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mmzoo: error: Training stopped: the loss term 'loss'")
    assert "epoch 1, step 2 (global step 2)" in lines[0]
    assert "last good backup" in lines[0] and "Traceback" not in result.stderr
    assert not (run_dir / "model.keras").exists()
    saved = backup.latest_backup(run_dir)
    meta = json.loads((saved / "meta.json").read_text())
    assert (meta["epoch"], meta["step"]) == (0, 1)
    with np.load(saved / "state.npz", allow_pickle=False) as f:
        assert all(np.all(np.isfinite(f[k])) for k in f.files)


def test_every_logged_term_is_checked():
    guard = StopOnNonFinite(steps_per_epoch=10)
    guard.start_epoch(2, 3)
    guard.on_train_batch_end(0, {"loss": 1.0, "nelbo_image": 2.0})
    with pytest.raises(NonFiniteLossError) as e:
        guard.on_train_batch_end(1, {"loss": 1.0, "nelbo_image": float("inf")})
    message = str(e.value)
    assert "'nelbo_image' is inf at epoch 3, step 5 (global step 25)" in message
    with pytest.raises(NonFiniteLossError, match="'val_loss' is nan at the end"):
        guard.on_epoch_end(2, {"loss": 1.0, "val_loss": float("nan")})


def test_mvae_nan_names_its_term(tmp_path):
    with pytest.raises(NonFiniteLossError, match=r"loss term '\w+' is (nan|inf)"):
        tiny_runs.train("mvae", tmp_path / "run", **{"train.learning_rate": 1.0e38})
    assert (
        backup.latest_backup(tmp_path / "run") is None
        or not (tmp_path / "run" / "model.keras").exists()
    )
