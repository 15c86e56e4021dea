"""Smoke test of benchmarks/train_throughput.py on gmu, a few steps (never timed)."""

import importlib.util
import json
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_throughput.py"


def load_script():
    spec = importlib.util.spec_from_file_location("train_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gmu_json(capsys):
    script = load_script()
    result = script.main(
        ["--models", "gmu", "--steps", "4", "--repeats", "1", "--spe", "2", "--json"]
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    assert list(printed) == ["gmu"]
    row = printed["gmu"]
    for key in ("baseline_samples_per_s", "tuned_samples_per_s", "ratio"):
        assert row[key] > 0, (key, row)
    assert row["samples_per_epoch"] == 4 * row["batch_size"]
    assert isinstance(row["jit_compile"], bool)
    assert row["steps_per_execution"] == 2


def test_synthetic_data_follows_the_specs():
    script = load_script()
    import mmzoo

    model = mmzoo.build("mvae_mnist", compile=False)
    x, y = script.synthetic_data(model, 3)
    assert set(x) == set(model.input)
    assert x["image"].shape == (3, 28, 28) and 0 <= x["image"].min()
    assert x["image"].max() <= 1
    np_label = x["label"]
    assert np_label.shape == (3, 10) and (np_label.sum(-1) == 1).all()
    assert (x["presence"] == 1).all() and y.shape == (3,)
