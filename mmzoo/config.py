"""Zoo configs: `zoo_configs/<name>.yaml` -> a validated `ZooConfig`.

A config file has four sections:

- `model`: the registered architecture to build (see `mmzoo.registry`).
- `config`: exactly the architecture's constructor arguments (== `get_config()`
  keys).
- `train`: optimizer, learning rate, batch size, epochs and the other keys of
  `TRAIN_DEFAULTS`.
- `data`: the default data source (`source`) and its options.

Files are read with `yaml.safe_load` only; Python tags and alias bombs are refused.
"""

import copy
import dataclasses
import inspect
import os
from pathlib import Path

import yaml

from mmzoo.errors import ConfigError

SECTIONS = ("model", "config", "train", "data")

TRAIN_DEFAULTS = {
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "batch_size": 64,
    "epochs": 10,
    "seed": 0,
    "clipnorm": None,
    "jit_compile": False,
    "steps_per_execution": 1,
    "backup_every": 0,  # steps between crash backups; 0: at epoch ends only
    "precision": "float32",  # or mixed_bfloat16, mixed_float16 (training/scale.py)
    "strategy": "auto",  # or one_device, mirrored, multi_worker
    "lr_scaling": "linear",  # learning_rate x replicas; or none
}

_MAX_YAML_BYTES = 1 << 20
_MAX_YAML_ALIASES = 50


def configs_dir():
    """The directory holding the zoo configs (inside the wheel or the repo)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "zoo_configs", here.parent / "zoo_configs"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"No zoo_configs directory found next to {here}.")


def list_models():
    """Sorted names of the zoo models (one per `zoo_configs/<name>.yaml`)."""
    return sorted(p.stem for p in configs_dir().glob("*.yaml"))


@dataclasses.dataclass
class ZooConfig:
    """A validated zoo config. `config` holds the constructor arguments."""

    name: str
    model: str
    config: dict
    train: dict
    data: dict

    def to_dict(self):
        return {
            "model": self.model,
            "config": copy.deepcopy(self.config),
            "train": copy.deepcopy(self.train),
            "data": copy.deepcopy(self.data),
        }


def load_config(name_or_path, overrides=None):
    """Load a zoo config by model name or YAML path, and apply `overrides`.

    Args:
        name_or_path: str or path. A name from `list_models()`, or a YAML file.
        overrides: dict, optional. Keys of the `config` section at the top level
            (`{"hidden_dim": 8}`), or whole sections (`{"train": {"epochs": 2}}`),
            or dotted keys (`{"train.epochs": 2}`).

    Returns:
        A `ZooConfig`.

    Raises:
        ConfigError: for an unknown name, a missing or unsafe file, an unknown key
            or a value of the wrong type; the message names the key, the value and
            the valid keys.
    """
    path, name = _resolve(name_or_path)
    raw = read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"Config {path} must be a mapping, got {type(raw).__name__}.")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(
            f"Unknown section {unknown[0]!r} in {path}. Valid sections: "
            f"{', '.join(SECTIONS)}."
        )
    if not isinstance(raw.get("model"), str):
        raise ConfigError(f"Config {path} needs `model: <architecture name>`.")
    from mmzoo.registry import get_architecture

    cls = get_architecture(raw["model"])
    base_config = dict(raw.get("config") or {})
    _check_keys("config", base_config, _constructor_args(cls), where=str(path))
    train = dict(TRAIN_DEFAULTS)
    _check_keys("train", raw.get("train") or {}, TRAIN_DEFAULTS, where=str(path))
    train.update(raw.get("train") or {})
    data = dict(raw.get("data") or {})
    cfg = ZooConfig(name, raw["model"], base_config, train, data)
    if overrides:
        apply_overrides(cfg, overrides, cls)
    return cfg


def apply_overrides(cfg, overrides, cls=None):
    """Apply `overrides` (see `load_config`) to `cfg` in place, with checks."""
    if cls is None:
        from mmzoo.registry import get_architecture

        cls = get_architecture(cfg.model)
    valid_config = _constructor_args(cls)
    for key, value in _flatten(overrides):
        section, _, sub = key.partition(".")
        path = (sub if section == "config" else key).split(".")
        if len(path) > 1 and path[0] in valid_config and section not in (
            "train",
            "data",
        ):
            # A key inside a mapping value: encoder.hub, encoders.text.units.
            cfg.config[path[0]] = _set_nested(
                cfg.config.get(path[0]), path, value, cfg.name
            )
        elif section in ("train", "data", "config") and sub:
            target = {"train": cfg.train, "data": cfg.data, "config": cfg.config}
            if section == "train":
                _check_value("train", sub, value, TRAIN_DEFAULTS)
            elif section == "config":
                _check_value("config", sub, value, valid_config, cfg.config)
            target[section][sub] = value
        elif key in valid_config:
            _check_value("config", key, value, valid_config, cfg.config)
            cfg.config[key] = value
        else:
            raise ConfigError(
                f"Unknown override key {key!r} (value {value!r}) for model "
                f"{cfg.name!r}. Valid keys: {', '.join(sorted(valid_config))}, "
                f"or train.<{'|'.join(TRAIN_DEFAULTS)}>, or data.<option>."
            )
    return cfg


def read_yaml(path):
    """`yaml.safe_load` a file, refusing huge files and alias bombs."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file not found: {path}")
    text = path.read_bytes()
    if len(text) > _MAX_YAML_BYTES:
        raise ConfigError(f"Config file {path} is larger than {_MAX_YAML_BYTES} bytes.")
    try:
        aliases = sum(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text))
    except yaml.YAMLError as e:
        raise ConfigError(f"Config file {path} is not valid YAML: {_first_line(e)}")
    if aliases > _MAX_YAML_ALIASES:
        # safe_load would expand them: a "billion laughs" document is refused
        # before that.
        raise ConfigError(
            f"Config file {path} uses {aliases} YAML aliases (at most "
            f"{_MAX_YAML_ALIASES}): refused as a possible alias bomb."
        )
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(
            f"Config file {path} is not safe, plain YAML: {_first_line(e)}"
        )


def _first_line(error):
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def parse_set_arguments(items):
    """Parse CLI `--set KEY=VALUE` items; values are YAML scalars or lists."""
    out = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}.")
        try:
            out[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            raise ConfigError(f"--set {key}: cannot parse value {value!r}.")
    return out


def _resolve(name_or_path):
    if isinstance(name_or_path, os.PathLike) or str(name_or_path).endswith(
        (".yaml", ".yml")
    ):
        path = Path(name_or_path)
        return path, path.stem
    name = str(name_or_path)
    path = configs_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(
            f"Unknown model {name!r}. Available models: {', '.join(list_models())}."
        )
    return path, name


def _constructor_args(cls):
    params = inspect.signature(cls.__init__).parameters
    return {
        n: (None if p.default is inspect.Parameter.empty else p.default)
        for n, p in params.items()
        if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    }


def _set_nested(current, path, value, name):
    """A copy of mapping `current` with `value` at `path[1:]` (new keys allowed
    at the last level; intermediate levels must be mappings)."""
    if not isinstance(current, dict):
        raise ConfigError(
            f"Cannot set {'.'.join(path)} for model {name!r}: {path[0]} is "
            f"{current!r}, not a mapping (set the whole key instead, e.g. "
            f"--set '{path[0]}={{...}}')."
        )
    result = copy.deepcopy(current)
    node = result
    for i, part in enumerate(path[1:-1], start=1):
        if not isinstance(node.get(part), dict):
            if part in node:
                raise ConfigError(
                    f"Cannot set {'.'.join(path)} for model {name!r}: "
                    f"{'.'.join(path[: i + 1])} is {node[part]!r}, not a mapping."
                )
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return result


def _flatten(overrides, prefix=""):
    for key, value in overrides.items():
        if key in ("train", "data", "config") and isinstance(value, dict):
            yield from _flatten(value, prefix=f"{key}.")
        else:
            yield prefix + key, value


def _check_keys(section, values, valid, where):
    for key, value in values.items():
        if key not in valid:
            raise ConfigError(
                f"Unknown key {key!r} (value {value!r}) in section {section!r} of "
                f"{where}. Valid keys: {', '.join(sorted(valid))}."
            )


def _check_value(section, key, value, valid, current=None):
    if key not in valid:
        raise ConfigError(
            f"Unknown key {section}.{key} (value {value!r}). Valid keys: "
            f"{', '.join(sorted(valid))}."
        )
    reference = valid[key]
    if current is not None and current.get(key) is not None:
        reference = current[key]
    if reference is None or value is None:
        return
    if not _same_kind(value, reference):
        raise ConfigError(
            f"Wrong type for {section}.{key}: got {value!r} "
            f"({type(value).__name__}), expected {type(reference).__name__} "
            f"like {reference!r}."
        )


def _same_kind(value, reference):
    if isinstance(reference, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(reference, bool)
    if isinstance(reference, float):
        return isinstance(value, (int, float))
    if isinstance(reference, int):
        return isinstance(value, int)
    if isinstance(reference, (list, tuple)):
        return isinstance(value, (list, tuple))
    if isinstance(reference, str) and isinstance(value, dict):
        return True  # a name or a spec (e.g. the captioner's `encoder`)
    return isinstance(value, type(reference))
