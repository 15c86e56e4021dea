import csv
import json
import os
import subprocess
import sys

import pytest


def mmzoo(*args, cwd=None, env=None):
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mmzoo.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        timeout=600,
    )


def assert_clean_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mmzoo: error:"), lines
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "gmu"
    result = mmzoo("train", "gmu", "--epochs", "3", "--seed", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    return out


def test_list():
    result = mmzoo("list")
    assert result.returncode == 0
    assert "gmu" in result.stdout


def test_train_writes_the_run(run_dir):
    for name in ("model.keras", "history.csv", "metrics.json", "config.yaml"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "logs").is_dir()
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and "val_loss" in rows[0]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["split"] == "val" and 0.5 < metrics["accuracy"] <= 1.0
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")]


def test_refuses_a_finished_run(run_dir):
    result = mmzoo("train", "gmu", "--epochs", "1", "--out", run_dir)
    assert_clean_error(result, "finished run", "--overwrite")


def test_evaluate_keras_and_savedmodel_agree(run_dir, tmp_path):
    keras_eval = mmzoo(
        "evaluate",
        "gmu",
        "--model",
        run_dir / "model.keras",
        "--split",
        "test",
        "--json",
    )
    assert keras_eval.returncode == 0, keras_eval.stderr
    exported = mmzoo(
        "export",
        "gmu",
        "--model",
        run_dir / "model.keras",
        "--out",
        tmp_path / "savedmodels" / "gmu",
    )
    assert exported.returncode == 0, exported.stderr
    path = json.loads(exported.stdout)["saved_model"]
    assert path.endswith("/1")
    sm_eval = mmzoo("evaluate", "gmu", "--model", path, "--split", "test", "--json")
    assert sm_eval.returncode == 0, sm_eval.stderr
    a, b = json.loads(keras_eval.stdout), json.loads(sm_eval.stdout)
    assert a["num_samples"] == b["num_samples"] == 1000
    assert a["accuracy"] == pytest.approx(b["accuracy"])
    assert a["loss"] == pytest.approx(b["loss"], rel=1e-4)

    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"inputs": {"visual": [[5.0], [-3.0]], "textual": [[-3.0], [-3.0]]}})
    )
    predicted = mmzoo("predict", "gmu", "--model", path, "--input", request)
    assert predicted.returncode == 0, predicted.stderr
    outputs = json.loads(predicted.stdout)["outputs"]
    assert len(outputs["probabilities"]) == 2

    again = mmzoo(
        "export",
        "gmu",
        "--model",
        run_dir / "model.keras",
        "--out",
        tmp_path / "savedmodels" / "gmu",
        "--version",
        "1",
    )
    assert_clean_error(again, "already exists")


def test_evaluate_mosi_split_all(data_dir, tmp_path):
    out = tmp_path / "run"
    result = mmzoo(
        "train", "gmu_mosi", "--epochs", "1", "--data-dir", data_dir, "--out", out
    )
    assert result.returncode == 0, result.stderr
    result = mmzoo(
        "evaluate",
        "gmu_mosi",
        "--model",
        out / "model.keras",
        "--data-dir",
        data_dir,
        "--split",
        "all",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["num_samples"] == 1447


def test_bad_inputs(run_dir, tmp_path):
    assert_clean_error(
        mmzoo("train", "nope", "--out", tmp_path / "a"), "Unknown model 'nope'", "gmu"
    )
    assert_clean_error(
        mmzoo("train", "gmu", "--set", "hidden_dimm=3", "--out", tmp_path / "b"),
        "'hidden_dimm'",
        "Valid keys",
    )
    assert_clean_error(
        mmzoo("train", "gmu", "--set", "hidden_dim=wide", "--out", tmp_path / "c"),
        "hidden_dim",
        "'wide'",
    )
    assert_clean_error(
        mmzoo(
            "train",
            "gmu_mosi",
            "--data-dir",
            tmp_path / "nowhere",
            "--out",
            tmp_path / "d",
        ),
        "MOSI data directory not found",
    )
    assert not (tmp_path / "d").exists()
    truncated = tmp_path / "bad.keras"
    truncated.write_bytes((run_dir / "model.keras").read_bytes()[:500])
    assert_clean_error(
        mmzoo("evaluate", "gmu", "--model", truncated, "--split", "val"), "truncated"
    )
    assert_clean_error(
        mmzoo(
            "evaluate",
            "gmu",
            "--model",
            tmp_path / "savedmodels" / "9",
            "--split",
            "val",
        ),
        "not found",
    )
    (tmp_path / "empty").mkdir()
    assert_clean_error(
        mmzoo("evaluate", "gmu", "--model", tmp_path / "empty", "--split", "val"),
        "No SavedModel",
    )
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    assert_clean_error(
        mmzoo(
            "predict", "gmu", "--model", run_dir / "model.keras", "--input", bad_json
        ),
        "not valid JSON",
    )
    assert_clean_error(
        mmzoo("evaluate", "gmu", "--model", "x", "--split", "dev"), "invalid choice"
    )


def test_evaluate_mvae_reports_every_subset(data_dir, tmp_path):
    """`mmzoo evaluate mvae --json`: accuracy, ELBO and reconstruction errors
    for each of the 7 subsets of the three modalities (untrained model)."""
    from mmzoo import build

    path = tmp_path / "mvae.keras"
    build("mvae").save(path)
    result = mmzoo(
        "evaluate",
        "mvae",
        "--model",
        path,
        "--data-dir",
        data_dir,
        "--split",
        "test",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["subsets"]) == 7
    for r in report["subsets"].values():
        assert sorted(r["reconstruction_error"]) == ["farsi", "kannada", "spoken"]
        assert {"accuracy", "elbo", "kl"} <= set(r)
