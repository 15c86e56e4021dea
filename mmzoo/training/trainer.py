"""`train_run`: a zoo config -> a trained model and a run directory.

The run directory holds `model.keras`, `history.csv`, `metrics.json`
(validation metrics), `config.yaml` (the resolved config) and `logs/`
(TensorBoard). Every file is written under a temporary name and renamed.
"""

import dataclasses
import shutil
from pathlib import Path

import keras
import numpy as np
import yaml

from mmzoo.builder import build_from_config
from mmzoo.data import load_data, to_dataset
from mmzoo.errors import ConfigError
from mmzoo.fileio import atomic_path, write_json_atomic, write_text_atomic
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
    """Create `run_dir`; refuse one that holds a finished or different run."""
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
        elif (run_dir / "model.keras").exists():
            raise ConfigError(
                f"{run_dir} holds a finished run (model.keras); use another --out "
                "or --overwrite to replace it"
            )
        elif (run_dir / "config.yaml").exists():
            previous = yaml.safe_load((run_dir / "config.yaml").read_text())
            if previous != cfg.to_dict():
                raise ConfigError(
                    f"{run_dir} holds a run of another model or config; use another "
                    "--out or --overwrite to replace it"
                )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def train_run(
    cfg,
    run_dir,
    data_dir=None,
    source=None,
    epochs=None,
    seed=None,
    verbose=1,
    overwrite=False,
):
    """Train the zoo model of `cfg`, evaluate it on `val`, and write the run.

    Args:
        cfg: `ZooConfig` (overrides already applied).
        run_dir: path of the run directory.
        data_dir: the data directory (default `$MMZOO_DATA_DIR`, then `./data`).
        source: data source name; default the config's `data.source`.
        epochs, seed: override `train.epochs` / `train.seed`.
        verbose: Keras progress bar mode.
        overwrite: replace a finished run in `run_dir`.

    Returns:
        `TrainResult`.
    """
    if epochs is not None:
        cfg.train["epochs"] = int(epochs)
    if seed is not None:
        cfg.train["seed"] = int(seed)
    source, options = data_options(cfg, source)
    cfg.data = {"source": source, **options}
    seed = int(cfg.train["seed"])
    train_data = load_data(source, "train", data_dir, seed=seed, **options)
    val_data = load_data(source, "val", data_dir, seed=seed, **options)
    run_dir = prepare_run_dir(run_dir, cfg, overwrite)

    keras.utils.set_random_seed(seed)
    model = build_from_config(cfg, data=train_data)
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict()))
    batch_size = int(cfg.train["batch_size"])
    history_tmp = run_dir / ".history.csv.partial"
    callbacks = [
        keras.callbacks.CSVLogger(str(history_tmp)),
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs")),
    ]
    history = model.fit(
        to_dataset(train_data, batch_size, shuffle=True, seed=seed),
        validation_data=to_dataset(val_data, batch_size),
        epochs=int(cfg.train["epochs"]),
        callbacks=callbacks,
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    history_tmp.replace(run_dir / "history.csv")
    metrics = evaluate_model(model, val_data)
    write_json_atomic(run_dir / "metrics.json", {"split": "val", **metrics})
    save_model(model, run_dir / "model.keras")
    return TrainResult(model, history.history, metrics, run_dir)


def evaluate_model(predict, data, batch_size=256):
    """Metrics of `predict` (a model or `Predictor`) on `MultimodalData`."""
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
