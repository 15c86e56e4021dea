"""Crash-safe backups of a training run, and resuming from them.

A backup is the directory `RUN_DIR/backup` holding:

- `state.npz`: every variable that training changes, by group: the model's
  (weights, non-trainable state such as the MVAE's `kl_scale`, and the
  `SeedGenerator` states of dropout and sampling layers), the optimizer's
  (iterations, moments; of every optimizer of a model that has several)
  and the metrics' (running means of the epoch so far).
  (No `model.weights.h5`: `model.save_weights` leaves out the seed generators
  and the metrics, and writing it took most of a backup's time, 0.1 s per
  epoch end for gmu_mosi in a cProfile of `mmzoo train`; `model.keras` is
  written when the run ends.)
- `meta.json` (written last): epoch, step within the epoch, global step, the
  history of finished epochs and the state of every callback that has
  `get_state` / `set_state`.

It is written to `RUN_DIR/backup.tmp-<pid>`, every file and the folder are
fsynced, then the previous backup is renamed to `backup.prev` and the new one
to `backup`; `backup.prev` is removed last. A kill at any moment leaves a
complete backup: `backup`, or `backup.prev` while the swap is half done.

Test hook: the environment variable `MMZOO_TEST_KILL_AT` makes the process
SIGKILL itself at a deterministic point (only the tests set it):
`step:G` after global step G (and its backup, if any), `epoch:E` after the
backup at the end of epoch E (0-based), `backup:N` in the middle of the N-th
backup write of the process, `swap:N` between the two renames of the N-th.
"""

import json
import os
import shutil
import signal
from pathlib import Path

import keras
import numpy as np

from mmzoo import envvars
from mmzoo.errors import ConfigError

BACKUP = "backup"
PREVIOUS = "backup.prev"
TMP_PREFIX = "backup.tmp-"
_GROUPS = ("model", "optimizer", "metrics")


def state_variables(model):
    """The variables of a backup, by group (see the module docstring).

    The optimizer group holds every optimizer of the model: a model with more
    than one (MMIM's main, text and estimator optimizers) lists them in an
    `optimizers` property, and each must be built before a restore.
    """
    optimizers = getattr(model, "optimizers", None) or [model.optimizer]
    return {
        "model": list(model.variables),
        "optimizer": [v for opt in optimizers if opt for v in opt.variables],
        "metrics": list(model.metrics_variables),
    }


def latest_backup(run_dir):
    """The directory of the newest complete backup in `run_dir`, or None."""
    for name in (BACKUP, PREVIOUS):
        path = Path(run_dir) / name
        if (path / "meta.json").is_file() and (path / "state.npz").is_file():
            return path
    return None


def remove_backups(run_dir):
    """Delete every backup and leftover temporary backup of `run_dir`."""
    run_dir = Path(run_dir)
    for path in [run_dir / BACKUP, run_dir / PREVIOUS, *run_dir.glob(TMP_PREFIX + "*")]:
        if path.is_dir():
            shutil.rmtree(path)


def read_backup(path):
    """(metadata dict, {group: [arrays]}) of a backup directory."""
    path = Path(path)
    try:
        meta = json.loads((path / "meta.json").read_text())
        with np.load(path / "state.npz", allow_pickle=False) as f:
            arrays = {
                g: [f[f"{g}/{i}"] for i in range(meta["sizes"][g])] for g in _GROUPS
            }
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(
            f"The backup in {path} cannot be read ({e}); delete it "
            "or use --overwrite to start again"
        )
    return meta, arrays


def assign_group(model, group, arrays, path="backup"):
    """Assign the saved `arrays` to the variables of `group`, checking shapes."""
    variables = state_variables(model)[group]
    if len(variables) != len(arrays):
        raise ConfigError(
            f"The {path} holds {len(arrays)} {group} variables, the model has "
            f"{len(variables)}: it belongs to another model; use --overwrite"
        )
    for variable, value in zip(variables, arrays):
        if tuple(variable.shape) != tuple(value.shape):
            raise ConfigError(
                f"The {path} holds {variable.path} of shape {value.shape}, the "
                f"model has {tuple(variable.shape)}; use --overwrite"
            )
        variable.assign(value)


def write_backup(run_dir, model, meta):
    """Write a complete backup atomically (see the module docstring)."""
    run_dir = Path(run_dir)
    tmp = run_dir / f"{TMP_PREFIX}{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    groups = state_variables(model)
    arrays = {
        f"{g}/{i}": keras.ops.convert_to_numpy(v)
        for g in _GROUPS
        for i, v in enumerate(groups[g])
    }
    with open(tmp / "state.npz", "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    _maybe_kill("backup", _count("backup"))
    meta = {**meta, "sizes": {g: len(groups[g]) for g in _GROUPS}}
    with open(tmp / "meta.json", "w") as f:
        f.write(json.dumps(meta, indent=1, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())
    _fsync(tmp)
    current, previous = run_dir / BACKUP, run_dir / PREVIOUS
    if previous.exists():
        shutil.rmtree(previous)
    if current.exists():
        os.replace(current, previous)
    _maybe_kill("swap", _count("swap"))
    os.replace(tmp, current)
    _fsync(run_dir)
    if previous.exists():
        shutil.rmtree(previous)


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_COUNTS = {}


def _count(what):
    _COUNTS[what] = _COUNTS.get(what, 0) + 1
    return _COUNTS[what]


def _maybe_kill(what, value):
    """Test hook: SIGKILL this process at `MMZOO_TEST_KILL_AT=what:value`."""
    if os.environ.get(envvars.TEST_KILL_AT) == f"{what}:{value}":
        os.kill(os.getpid(), signal.SIGKILL)


class BackupAndResume(keras.callbacks.Callback):
    """Back up the run every `backup_every` steps and at every epoch end.

    `trainer.train_run` calls `fit` once per epoch with a dataset that starts
    at `skip` batches into the epoch's fixed order; `start_epoch(epoch, skip)`
    tells this callback where that dataset starts. On the first `fit` it
    restores `restore` (a `read_backup` result); on the resumed epoch it
    restores the running metrics after Keras resets them.

    Args:
        run_dir: path. The run directory.
        steps_per_epoch: int. Batches in a full epoch.
        backup_every: int. Steps between backups (0: epoch ends only).
        restore: `(meta, arrays)` or None.
        stateful: list of callbacks with `get_state()` / `set_state(state)`.
    """

    def __init__(
        self, run_dir, steps_per_epoch, backup_every=0, restore=None, stateful=()
    ):
        super().__init__()
        self.run_dir = Path(run_dir)
        self.steps_per_epoch = int(steps_per_epoch)
        self.backup_every = int(backup_every or 0)
        self.restore = restore
        self.stateful = list(stateful)
        self.history = list(restore[0]["history"]) if restore else []
        self.epoch, self.skip = 0, 0
        if restore:
            for cb in self.stateful:
                state = restore[0]["callbacks"].get(type(cb).__name__)
                if state is not None:
                    cb.set_state(state)

    def start_epoch(self, epoch, skip):
        self.epoch, self.skip = int(epoch), int(skip)
        self._last_step = self.skip

    def on_train_begin(self, logs=None):
        if self.restore is not None:
            for group in ("model", "optimizer"):
                assign_group(self.model, group, self.restore[1][group])

    def on_epoch_begin(self, epoch, logs=None):
        if self.restore is not None:
            saved = self.restore[1]["metrics"]
            # The running means of the resumed epoch (Keras has just reset
            # them); skipped for a model whose metrics are built lazily.
            if self.skip and len(saved) == len(self.model.metrics_variables):
                assign_group(self.model, "metrics", saved)
            self.restore = None

    def on_train_batch_end(self, batch, logs=None):
        # With `steps_per_execution` > 1 Keras calls this once per execution,
        # with the index of its last batch: a backup is due when the steps
        # since the last call crossed a multiple of `backup_every` (it is then
        # taken at the end of that execution).
        step = self.skip + batch + 1
        offset = self.epoch * self.steps_per_epoch
        global_step = offset + step
        previous = offset + getattr(self, "_last_step", self.skip)
        self._last_step = step
        if (
            self.backup_every
            and global_step // self.backup_every > previous // self.backup_every
            and step < self.steps_per_epoch  # the epoch-end backup follows
        ):
            self.save(self.epoch, step)
        _maybe_kill("step", global_step)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": int(epoch)}
        row.update({k: float(v) for k, v in (logs or {}).items()})
        self.history.append(row)
        self.save(epoch + 1, 0)
        _maybe_kill("epoch", epoch)

    def save(self, epoch, step):
        meta = {
            "epoch": int(epoch),
            "step": int(step),
            "global_step": int(epoch * self.steps_per_epoch + step),
            "steps_per_epoch": self.steps_per_epoch,
            "history": self.history,
            "callbacks": {type(cb).__name__: cb.get_state() for cb in self.stateful},
        }
        write_backup(self.run_dir, self.model, meta)
