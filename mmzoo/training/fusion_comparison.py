"""Compare fusion models on one data source: train each over seeds, tabulate.

A `Variant` is a zoo config plus constructor overrides and, optionally, the
modalities it sees (single-modality baselines, 2-modality fusions).
`compare_fusions` trains every variant for every seed with `build_from_config`
and `fit`, evaluates it on the validation split and, for multimodal variants,
with each modality removed (`mmzoo.training.robustness`). The benchmark
`benchmarks/fusion_mosi.py` and the notebook `fusion_comparison.ipynb` share it.
"""

import dataclasses
import time

import keras
import numpy as np

from mmzoo.builder import build_from_config
from mmzoo.config import load_config
from mmzoo.data import to_dataset
from mmzoo.training.robustness import feature_statistics, robustness_metrics
from mmzoo.training.trainer import evaluate_model


@dataclasses.dataclass
class Variant:
    """One row of the comparison.

    Attributes:
        name: str. Row label.
        config: str. Zoo config name (or YAML path).
        overrides: dict. Constructor-argument overrides of the config.
        modalities: tuple of str, optional. The modalities it sees (all the
            data's when None); one modality takes `fusion={"name": "none"}`.
    """

    name: str
    config: str
    overrides: dict = dataclasses.field(default_factory=dict)
    modalities: tuple = None


def unimodal_variant(modality, config="concat"):
    """A single-modality baseline: `config` with `fusion={"name": "none"}`."""
    return Variant(
        f"{modality} only", config, {"fusion": {"name": "none"}}, (modality,)
    )


# Every fusion zoo config on MOSI, bilinear fusion (2 modalities only), concat
# with modality dropout, and the single-modality baselines.
MOSI_VARIANTS = (
    Variant("gmu", "gmu_mosi"),
    Variant("concat", "concat"),
    Variant("concat + modality dropout", "concat", {"modality_dropout": 0.3}),
    Variant("additive", "additive"),
    Variant("multiplicative", "multiplicative"),
    Variant(
        "bilinear (audio+text)",
        "concat",
        {"fusion": {"name": "bilinear", "units": 32}},
        ("audio", "text"),
    ),
    Variant("tfn", "tfn"),
    Variant("lmf", "lmf"),
    Variant("polynomial", "polynomial"),
    Variant("gated_attention", "gated_attention"),
    Variant("mag", "mag"),
    Variant("transformer", "transformer"),
    Variant("hybrid", "hybrid"),
    Variant("late", "late"),
    unimodal_variant("text"),
    unimodal_variant("audio"),
    unimodal_variant("video"),
)


def select_modalities(data, modalities):
    """`data` restricted to `modalities` (all of them when None)."""
    if modalities is None:
        return data
    missing = sorted(set(modalities) - set(data.features))
    if missing:
        raise ValueError(f"Modalities {missing} are not in the data")
    return dataclasses.replace(data, features={m: data.features[m] for m in modalities})


def train_variant(variant, train, val, seed=0, epochs=None, verbose=0):
    """Build, fit and evaluate one variant.

    Returns:
        (model, metrics): the trained model and its validation metrics.
    """
    overrides = dict(variant.overrides)
    overrides["train"] = {"seed": int(seed)}
    if epochs is not None:
        overrides["train"]["epochs"] = int(epochs)
    cfg = load_config(variant.config, overrides)
    train = select_modalities(train, variant.modalities)
    val = select_modalities(val, variant.modalities)
    keras.utils.set_random_seed(int(seed))
    model = build_from_config(cfg, data=train)
    model.fit(
        to_dataset(train, int(cfg.train["batch_size"]), shuffle=True, seed=seed),
        epochs=int(cfg.train["epochs"]),
        shuffle=False,  # the dataset shuffles itself, seeded
        verbose=verbose,
    )
    return model, evaluate_model(model, val)


def compare_fusions(
    variants, train, val, seeds=(0,), epochs=None, robustness=True, log=None
):
    """Train every variant for every seed; evaluate, with modalities removed.

    Args:
        variants: iterable of `Variant`.
        train, val: `MultimodalData` (all modalities).
        seeds: iterable of int.
        epochs: int, optional. Overrides each config's `train.epochs`.
        robustness: bool. Also evaluate multimodal variants with each modality
            removed (mask and noise, see `robustness_metrics`).
        log: callable taking a str, optional (progress lines).

    Returns:
        dict with `runs` (one row per variant and seed: `variant`, `seed`,
        validation `accuracy`, `f1`, `loss`, `params`, `seconds`) and
        `robustness` (one row per variant, seed, removed modality and removal).
    """
    statistics = feature_statistics(train)
    runs, removals = [], []
    for variant in variants:
        for seed in seeds:
            start = time.perf_counter()
            model, metrics = train_variant(variant, train, val, seed, epochs)
            seconds = time.perf_counter() - start
            runs.append(
                {
                    "variant": variant.name,
                    "seed": int(seed),
                    "modalities": list(model.modalities),
                    "params": int(model.count_params()),
                    "seconds": round(seconds, 2),
                    **metrics,
                }
            )
            if log:
                log(
                    f"{variant.name:<28} seed {seed}: accuracy "
                    f"{metrics['accuracy']:.4f}, f1 {metrics['f1']:.4f} "
                    f"({seconds:.1f} s)"
                )
            if robustness and len(model.modalities) > 1:
                view = select_modalities(val, variant.modalities)
                for row in robustness_metrics(model, view, statistics, seed=seed):
                    removals.append({"variant": variant.name, "seed": int(seed), **row})
            keras.backend.clear_session()
    return {"runs": runs, "robustness": removals}


def _mean_std(values):
    values = np.asarray(values, dtype="float64")
    std = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    return float(np.mean(values)), std


def summarize_runs(runs):
    """Per variant (in first-seen order): mean and std over seeds."""
    names = list(dict.fromkeys(r["variant"] for r in runs))
    summary = []
    for name in names:
        rows = [r for r in runs if r["variant"] == name]
        acc, acc_std = _mean_std([r["accuracy"] for r in rows])
        f1, f1_std = _mean_std([r["f1"] for r in rows])
        summary.append(
            {
                "variant": name,
                "modalities": rows[0]["modalities"],
                "seeds": len(rows),
                "accuracy": acc,
                "accuracy_std": acc_std,
                "f1": f1,
                "f1_std": f1_std,
                "params": rows[0]["params"],
                "seconds": float(np.mean([r["seconds"] for r in rows])),
            }
        )
    return summary


def summarize_robustness(rows):
    """variant -> {(how, removed): (mean accuracy, std)} over seeds."""
    out = {}
    for row in rows:
        key = (row["how"], row["removed"])
        out.setdefault(row["variant"], {}).setdefault(key, []).append(row["accuracy"])
    return {
        v: {k: _mean_std(accs) for k, accs in cells.items()} for v, cells in out.items()
    }


def _cell(mean, std, seeds):
    return f"{mean:.3f} ± {std:.3f}" if seeds > 1 else f"{mean:.3f}"


def accuracy_table(summary):
    """Markdown table of validation accuracy and F1 (mean ± std over seeds)."""
    lines = [
        "| model | modalities | val accuracy | val F1 | params | train s |",
        "|---|---|---|---|---|---|",
    ]
    for s in summary:
        lines.append(
            f"| {s['variant']} | {'+'.join(s['modalities'])} | "
            f"{_cell(s['accuracy'], s['accuracy_std'], s['seeds'])} | "
            f"{_cell(s['f1'], s['f1_std'], s['seeds'])} | {s['params']:,} | "
            f"{s['seconds']:.1f} |"
        )
    return "\n".join(lines)


def robustness_table(robust, modalities, seeds=1):
    """Markdown table: accuracy with each modality removed (mask, then noise)."""
    columns = [("none", None)] + [
        (how, m) for how in ("mask", "noise") for m in modalities
    ]
    header = ["full"] + [f"−{m} ({how})" for how, m in columns[1:]]
    lines = [
        "| model | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(header),
    ]
    for variant, cells in robust.items():
        values = [_cell(*cells[key], seeds) if key in cells else "—" for key in columns]
        lines.append(f"| {variant} | " + " | ".join(values) + " |")
    return "\n".join(lines)
