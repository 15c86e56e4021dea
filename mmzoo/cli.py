"""The `mmzoo` command: list | train | evaluate | export | predict | quickstart.

Bad input exits with status 2 and one line on stderr, without a traceback.
"""

import argparse
import json
import os
import sys
from pathlib import Path

from mmzoo import envvars

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"mmzoo: error: {message}\n")


def _parser():
    parser = _Parser(prog="mmzoo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the zoo models")

    train = sub.add_parser("train", help="train a zoo model into a run directory")
    train.add_argument("name")
    _config_args(train)
    _data_args(train)
    train.add_argument("--epochs", type=int)
    train.add_argument("--seed", type=int)
    train.add_argument("--out", required=True, help="run directory")
    train.add_argument(
        "--overwrite", action="store_true", help="replace a finished run in --out"
    )
    train.add_argument(
        "--backup-every",
        type=int,
        metavar="STEPS",
        help="back up every STEPS steps (default train.backup_every; 0: at epoch "
        "ends only); the same command resumes a killed run from its last backup",
    )
    train.add_argument(
        "--precision",
        choices=["float32", "mixed_bfloat16", "mixed_float16"],
        help="dtype policy (default train.precision); float16 adds loss scaling",
    )
    train.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compile train steps with XLA (default train.jit_compile)",
    )
    train.add_argument(
        "--strategy",
        choices=["auto", "one_device", "mirrored", "multi_worker"],
        help="tf.distribute strategy (default train.strategy); multi_worker reads "
        "TF_CONFIG or Slurm's environment; train.batch_size is per replica",
    )

    evaluate = sub.add_parser("evaluate", help="metrics of a trained model")
    evaluate.add_argument("name")
    _config_args(evaluate)  # e.g. --config RUN_DIR/config.yaml: the run's data options
    evaluate.add_argument(
        "--model", required=True, help="a .keras file or a SavedModel version directory"
    )
    _data_args(evaluate)
    evaluate.add_argument(
        "--split", required=True, choices=["train", "val", "test", "all"]
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print one JSON object of metrics"
    )
    evaluate.add_argument("--unsafe", action="store_true", help=_UNSAFE_HELP)

    export = sub.add_parser("export", help="export a SavedModel for TF Serving")
    export.add_argument("name")
    export.add_argument("--model", required=True, help="a .keras file")
    export.add_argument("--out", required=True, help="savedmodels/NAME")
    export.add_argument("--version", type=int, help="default: the next free one")
    export.add_argument("--unsafe", action="store_true", help=_UNSAFE_HELP)

    predict = sub.add_parser("predict", help="predict from a REST predict payload")
    predict.add_argument("name")
    predict.add_argument(
        "--model", required=True, help="a .keras file or a SavedModel version directory"
    )
    predict.add_argument(
        "--input", required=True, help='JSON: {"instances": [...]} or {"inputs": {...}}'
    )
    predict.add_argument("--unsafe", action="store_true", help=_UNSAFE_HELP)

    quick = sub.add_parser("quickstart", help="train, evaluate, plot, export, serve")
    quick.add_argument("--out", default="runs/gmu-quickstart")
    quick.add_argument("--savedmodels", default="savedmodels")
    quick.add_argument("--epochs", type=int)
    return parser


_UNSAFE_HELP = (
    "allow .keras files with Lambda layers or unknown code (only for files you trust)"
)


def _data_args(parser):
    parser.add_argument("--data", help="data source (default: the config's)")
    parser.add_argument(
        "--data-dir", help="data directory (default: $MMZOO_DATA_DIR, then ./data)"
    )
    parser.add_argument(
        "--tfds-dir",
        help="where the data's tfds records are prepared and reused (default: "
        "$MMZOO_TFDS_DIR, then $TFDS_DATA_DIR, then ~/tensorflow_datasets)",
    )


def _import_tensorflow_quietly():
    """Import TensorFlow with stderr closed: its C++ start-up notes ("Could not
    find cuda drivers", absl banners) are printed before any logging setting
    applies, and would drown the one-line errors of this command."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        if not os.environ.get("TF_CONFIG") and not os.environ.get(envvars.CPU_REPLICAS):
            # Device start-up prints too; but a multi-worker strategy, and a
            # split of the CPU into replicas, must configure the runtime
            # before the first op runs.
            tf.constant(0.0) + 0.0
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def main(argv=None):
    args = _parser().parse_args(argv)
    if getattr(args, "tfds_dir", None):
        os.environ[envvars.TFDS_DIR] = args.tfds_dir
    if os.environ.get(envvars.VERBOSE_TF) != "1":
        _import_tensorflow_quietly()
    from mmzoo.errors import MmzooError

    try:
        return _COMMANDS[args.command](args) or 0
    except MmzooError as e:
        print(f"mmzoo: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"mmzoo: error: {e.strerror}: {e.filename}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mmzoo: interrupted", file=sys.stderr)
        return 130


def _list(args):
    import mmzoo

    for name in mmzoo.list_models():
        cfg = mmzoo.load_config(name)
        print(f"{name:<16} model={cfg.model:<20} data={cfg.data.get('source', '-')}")


def _config_args(parser):
    parser.add_argument("--config", help="a YAML config instead of the zoo's")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (train.epochs=3, hidden_dim=16)",
    )


def _load_cfg(args):
    import mmzoo
    from mmzoo.config import parse_set_arguments

    overrides = parse_set_arguments(getattr(args, "set", None))
    source = args.config if getattr(args, "config", None) else args.name
    return mmzoo.load_config(source, overrides)


def _train(args):
    from mmzoo.training.trainer import train_run

    cfg = _load_cfg(args)
    for key, value in (
        ("precision", args.precision),
        ("jit_compile", args.jit_compile),
        ("strategy", args.strategy),
    ):
        if value is not None:
            cfg.train[key] = value
    result = train_run(
        cfg,
        args.out,
        data_dir=args.data_dir,
        source=args.data,
        epochs=args.epochs,
        seed=args.seed,
        overwrite=args.overwrite,
        backup_every=args.backup_every,
    )
    print(json.dumps({"run_dir": str(result.run_dir), "val": result.metrics}))


def _evaluate(args):
    from mmzoo.data import load_data
    from mmzoo.export import load_predictor
    from mmzoo.training.trainer import data_options, evaluate_model

    cfg = _load_cfg(args)
    source, options = data_options(cfg, args.data)
    data = load_data(
        source, args.split, args.data_dir, seed=int(cfg.train["seed"]), **options
    )
    predictor = load_predictor(args.model, safe_mode=not args.unsafe)
    _check_inputs(predictor.specs, data)
    metrics = evaluate_model(predictor, data)
    model = getattr(predictor, "model", None)
    if hasattr(model, "evaluate_subsets"):
        metrics["subsets"] = model.evaluate_subsets(data)
    if args.json:
        print(json.dumps({"model": args.name, "split": args.split, **metrics}))
    else:
        for key, value in metrics.items():
            print(f"{key:>12}: {value}")


def _export(args):
    from mmzoo.export import export_saved_model, load_keras_model

    model = load_keras_model(args.model, safe_mode=not args.unsafe)
    if hasattr(model, "export_for_serving"):  # its own signatures (captioner)
        path = model.export_for_serving(args.out, version=args.version)
    else:
        path = export_saved_model(model, args.out, version=args.version)
    print(json.dumps({"saved_model": str(path)}))


def _predict(args):
    from mmzoo.errors import DataError
    from mmzoo.export import (
        decode_predict_request,
        encode_predict_response,
        load_predictor,
    )

    path = Path(args.input)
    if not path.is_file():
        raise DataError(f"Input file not found: {path}")
    try:
        payload = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path} is not valid JSON: {e}")
    predictor = load_predictor(args.model, safe_mode=not args.unsafe)
    inputs, fmt = decode_predict_request(payload, predictor.specs)
    print(json.dumps(encode_predict_response(predictor(inputs), fmt)))


def _quickstart(args):
    from mmzoo.quickstart import run_quickstart

    run_quickstart(args.out, args.savedmodels, epochs=args.epochs)


def _check_inputs(specs, data):
    from mmzoo.errors import DataError

    for name, (shape, _) in sorted(specs.items()):
        if name not in data.features:
            raise DataError(
                f"The model takes input {name!r}; the data has "
                f"{', '.join(sorted(data.features))}."
            )
        if tuple(data.features[name].shape[1:]) != tuple(shape):
            raise DataError(
                f"Input {name!r}: the data has width {data.features[name].shape[1:]}, "
                f"the model expects {tuple(shape)}."
            )


_COMMANDS = {
    "list": _list,
    "train": _train,
    "evaluate": _evaluate,
    "export": _export,
    "predict": _predict,
    "quickstart": _quickstart,
}

if __name__ == "__main__":
    sys.exit(main())
