"""`train_run`: a zoo config -> a trained model and a run directory.

The run directory holds `model.keras`, `history.csv`, `metrics.json`
(validation metrics), `config.yaml` (the resolved config) and `logs/`
(TensorBoard). Every file is written under a temporary name and renamed.
While training, `backup/` holds the last backup (see `mmzoo.training.backup`);
running the same command again after a crash resumes from it.
"""

import csv
import dataclasses
import io
import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np
import yaml

from mmzoo import envvars
from mmzoo.builder import build_from_config
from mmzoo.data import load_data, to_dataset
from mmzoo.errors import ConfigError, DataError, MmzooError
from mmzoo.fileio import atomic_path, write_json_atomic, write_text_atomic
from mmzoo.models.base import compile_model
from mmzoo.training import backup, scale
from mmzoo.training.callbacks import KLAnnealing, StopOnNonFinite
from mmzoo.training.metrics import classification_metrics

RUN_FILES = ("model.keras", "history.csv", "metrics.json", "config.yaml", "logs")


@dataclasses.dataclass
class TrainResult:
    model: keras.Model
    history: dict
    metrics: dict
    run_dir: Path


def data_options(cfg, source=None):
    """The data source and its options: the config's, unless `source` differs."""
    options = dict(cfg.data)
    default = options.pop("source", None)
    if source is not None and source != default:
        return source, {}
    if default is None:
        raise ConfigError(f"Config {cfg.name!r} has no data.source; pass --data.")
    return default, options


def prepare_run_dir(run_dir, cfg, overwrite=False):
    """Create `run_dir`; refuse one that holds a finished or different run.

    A run dir holding a backup of the same config (up to `train.backup_every`)
    is kept: `train_run` resumes from it. One of another config is refused.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"--out {run_dir} exists and is not a directory")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if overwrite:
            for name in RUN_FILES:
                target = run_dir / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
            backup.remove_backups(run_dir)
        elif (run_dir / "model.keras").exists():
            raise ConfigError(
                f"{run_dir} holds a finished run (model.keras); use another --out "
                "or --overwrite to replace it"
            )
        elif (run_dir / "config.yaml").exists():
            try:
                previous = yaml.safe_load((run_dir / "config.yaml").read_text())
            except yaml.YAMLError:
                previous = None
            if _comparable(previous) != _comparable(cfg.to_dict()):
                what = "a backup" if backup.latest_backup(run_dir) else "a run"
                raise ConfigError(
                    f"{run_dir} holds {what} of another model or config "
                    f"({_first_difference(previous, cfg.to_dict())}); use the same "
                    "command to resume it, another --out, or --overwrite to replace it"
                )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _comparable(cfg_dict):
    """A config as compared for resuming: the backup frequency may change."""
    if not isinstance(cfg_dict, dict):
        return cfg_dict
    out = dict(cfg_dict)
    out["train"] = {
        k: v for k, v in (out.get("train") or {}).items() if k != "backup_every"
    }
    return out


def _first_difference(previous, current):
    previous, current = _comparable(previous), _comparable(current)
    if not isinstance(previous, dict):
        return "its config.yaml is not a config"
    for section in ("model", "config", "train", "data"):
        a, b = previous.get(section), current.get(section)
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    return f"{section}.{key} was {a.get(key)!r}, now {b.get(key)!r}"
        elif a != b:
            return f"{section} was {a!r}, now {b!r}"
    return "the configs differ"


def epoch_order(num_samples, seed, epoch):
    """The sample order of `epoch`: a pure function of (seed, epoch)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(num_samples)


def epoch_dataset(data, batch_size, seed, epoch, skip_batches=0):
    """Epoch `epoch`'s batches in `epoch_order`, without the first `skip_batches`.

    A resumed run rebuilds the order of the interrupted epoch and skips the
    batches it had consumed.
    """
    import tensorflow as tf

    order = epoch_order(len(data), seed, epoch)[skip_batches * batch_size :]
    features = {k: v[order] for k, v in data.features.items()}
    ds = tf.data.Dataset.from_tensor_slices((features, data.labels[order]))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def train_run(
    cfg,
    run_dir,
    data_dir=None,
    source=None,
    epochs=None,
    seed=None,
    verbose=1,
    overwrite=False,
    backup_every=None,
):
    """Train the zoo model of `cfg`, evaluate it on `val`, and write the run.

    The run is resumable: it is backed up (see `mmzoo.training.backup`) every
    `train.backup_every` steps and at every epoch end, and the same call on a
    run dir holding a backup continues from it, ending with the same weights
    as an uninterrupted run. The first NaN or Inf logged loss term stops
    training with `NonFiniteLossError`; the last good backup is kept.

    Args:
        cfg: `ZooConfig` (overrides already applied).
        run_dir: path of the run directory.
        data_dir: the data directory (default `$MMZOO_DATA_DIR`, then `./data`).
        source: data source name; default the config's `data.source`.
        epochs, seed, backup_every: override `train.epochs` / `train.seed` /
            `train.backup_every`.
        verbose: Keras progress bar mode.
        overwrite: replace a finished run (or a backup) in `run_dir`.

    Returns:
        `TrainResult`.
    """
    if epochs is not None:
        cfg.train["epochs"] = int(epochs)
    if seed is not None:
        cfg.train["seed"] = int(seed)
    if backup_every is not None:
        cfg.train["backup_every"] = int(backup_every)
    every = cfg.train.get("backup_every") or 0
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise ConfigError(
            "train.backup_every must be an integer >= 0 (0: at epoch ends only). "
            f"Received {every!r}"
        )
    scale.check_train_options(cfg.train)
    # First: a multi-worker strategy must start before TensorFlow runs an op.
    strategy = scale.make_strategy(cfg.train["strategy"])
    replicas = strategy.num_replicas_in_sync
    source, options = data_options(cfg, source)
    cfg.data = {"source": source, **options}
    seed = int(cfg.train["seed"])
    train_data = _load(source, "train", data_dir, seed, options)
    val_data = _load(source, "val", data_dir, seed, options)
    _check_classes(train_data, f"{source}/train")

    # Build before touching the run dir: a bad config writes nothing.
    keras.utils.set_random_seed(seed)
    with scale.precision_scope(cfg.train["precision"]), strategy.scope():
        model = _build(
            cfg, train_data, replicas, scale.is_multi_worker(strategy) or replicas > 1
        )
        # Create every variable a backup restores before `fit` starts: the
        # optimizer's, and the compiled metrics' (Keras builds those lazily
        # when it traces the first step, after the callbacks' `on_epoch_begin`).
        model.optimizer.build(model.trainable_variables)
        try:  # Keras 3 trainer API; without it only the resumed epoch's
            # metrics start from zero (the weights are exact either way).
            model._symbolic_build(data_batch=next(iter(to_dataset(val_data, 2))))
        except Exception:  # noqa: BLE001 - a model this cannot build traces later
            pass
    saved = backup.latest_backup(run_dir) if Path(run_dir).is_dir() else None
    if scale.is_chief(strategy):
        run_dir = prepare_run_dir(run_dir, cfg, overwrite)
        saved = backup.latest_backup(run_dir)
    else:
        # Another worker of a multi-worker run: it reads the chief's backup
        # (a shared file system) and writes only to a scratch directory of its
        # own, removed at the end unless MMZOO_KEEP_WORKER_DIR=1.
        run_dir = Path(tempfile.mkdtemp(prefix="mmzoo-worker-"))
    restore = backup.read_backup(saved) if saved else None
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict()))
    # train.batch_size is per replica; a step takes one global batch.
    batch_size = int(cfg.train["batch_size"]) * replicas
    num_epochs = int(cfg.train["epochs"])
    steps = -(-len(train_data) // batch_size)
    if restore and restore[0].get("steps_per_epoch") != steps:
        raise ConfigError(
            f"The backup in {saved} has another epoch size; use "
            "--overwrite to start again"
        )
    guard = StopOnNonFinite(
        steps,
        hint=f" The last good backup is kept in {run_dir / backup.BACKUP}; lower "
        "train.learning_rate or set train.clipnorm.",
    )
    stateful = []
    if getattr(model, "kl_warmup_epochs", 0):
        # Explicit steps: a resumed epoch's dataset is shorter than an epoch.
        stateful.append(KLAnnealing(model.kl_warmup_epochs, steps_per_epoch=steps))
    saver = backup.BackupAndResume(run_dir, steps, every, restore, stateful)
    callbacks = [
        *stateful,
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
        guard,
        saver,  # last: it saves what the others have updated
    ]
    start_epoch, start_step = (
        (restore[0]["epoch"], restore[0]["step"]) if restore else (0, 0)
    )
    val_ds = to_dataset(val_data, batch_size)
    if verbose:  # after the checks: an error stays one line
        for split, data in (("train", train_data), ("val", val_data)):
            if data.origin:  # prepared now, or read from the records
                # stdout, with Keras' progress: stderr is kept for errors.
                print(f"data {source}/{split}: {len(data)} samples, {data.origin}")
    for epoch in range(start_epoch, num_epochs):
        skip = start_step if epoch == start_epoch else 0
        for cb in (guard, saver):
            cb.start_epoch(epoch, skip)
        model.fit(
            epoch_dataset(train_data, batch_size, seed, epoch, skip),
            validation_data=val_ds,
            initial_epoch=epoch,
            epochs=epoch + 1,
            callbacks=callbacks,
            shuffle=False,  # epoch_dataset fixes the order
            verbose=verbose,
        )
    if restore and start_epoch >= num_epochs:
        backup.assign_group(model, "model", restore[1]["model"])
    history = _history_columns(saver.history)
    write_history_csv(run_dir / "history.csv", saver.history)
    metrics = evaluate_model(model, val_data)
    write_json_atomic(run_dir / "metrics.json", {"split": "val", **metrics})
    save_model(model, run_dir / "model.keras")
    backup.remove_backups(run_dir)
    if not scale.is_chief(strategy) and os.environ.get(envvars.KEEP_WORKER_DIR) != "1":
        shutil.rmtree(run_dir, ignore_errors=True)
    return TrainResult(model, history, metrics, run_dir)


def _build(cfg, data, replicas=1, one_step=False):
    """`build_from_config` compiled for `replicas` replicas (the learning rate
    of `train.lr_scaling`), with a constructor's `ValueError` as a
    `ConfigError`. `one_step` (a multi-worker strategy, or several replicas):
    one step per execution, since Keras 3.15's multi-step loop
    (`steps_per_execution` > 1) over a distributed iterator fails there ("You
    must feed a value for placeholder tensor ... multi_step_on_iterator")."""
    train = {
        **cfg.train,
        "learning_rate": scale.effective_learning_rate(cfg.train, replicas),
    }
    if one_step:
        train["steps_per_execution"] = 1
    try:
        model = build_from_config(cfg, data=data, compile=False)
        return compile_model(model, train)
    except MmzooError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"Cannot build model {cfg.model!r} from the config: {e}")


def _load(source, split, data_dir, seed, options):
    """`load_data`, with a source's own `ValueError` as a `DataError`."""
    try:
        return load_data(source, split, data_dir, seed=seed, **options)
    except MmzooError:
        raise
    except ValueError as e:
        raise DataError(f"Data source {source!r}, split {split!r}: {e}")


def _check_classes(data, what):
    """Refuse a classification training split that holds a single class."""
    if data.task != "multiclass":
        return
    present = np.unique(np.asarray(data.labels))
    if len(present) < 2:
        raise DataError(
            f"{what}: every one of the {len(data)} samples has class "
            f"{int(present[0])}; expected at least 2 classes to train a classifier"
        )


def _history_columns(rows):
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    return {k: [row.get(k) for row in rows] for k in keys}


def write_history_csv(path, rows):
    """history.csv as `keras.callbacks.CSVLogger` writes it: epoch, sorted keys."""
    keys = sorted({k for row in rows for k in row} - {"epoch"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["epoch", *keys], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({"epoch": row["epoch"], **{k: row.get(k, "NA") for k in keys}})
    write_text_atomic(path, buffer.getvalue())


def evaluate_model(predict, data, batch_size=256):
    """Metrics of `predict` (a model or `Predictor`) on `MultimodalData`.

    A model with an `evaluation_report(data)` method (the captioner: BLEU, CIDEr)
    reports its own JSON-able metrics.
    """
    model = getattr(predict, "model", None) or predict
    if hasattr(model, "evaluation_report"):
        return model.evaluation_report(data)
    names = list(getattr(predict, "specs", None) or data.features)
    outputs = []
    for start in range(0, len(data), batch_size):
        batch = {k: data.features[k][start : start + batch_size] for k in names}
        outputs.append(np.asarray(predict(batch)["probabilities"]))
    return classification_metrics(np.concatenate(outputs), data.labels, data.task)


def save_model(model, path):
    """`model.save` to a temporary `.keras` file, then rename into place."""
    with atomic_path(path) as tmp:
        model.save(tmp)
