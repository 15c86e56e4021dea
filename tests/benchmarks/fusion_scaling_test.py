"""Smoke test of benchmarks/fusion_scaling.py on the tiniest grid (never timed)."""

import importlib.util
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fusion_scaling.py"


def load_script():
    spec = importlib.util.spec_from_file_location("fusion_scaling", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiniest_grid(capsys):
    script = load_script()
    # batch 2: TensorFusion of 2 x width 4 has 25 * 2 elements (kept), of 3 x
    # width 4 has 125 * 2 (above --max-elements 100: skipped, not crashed).
    result = script.main([
        "--modalities", "2,3", "--widths", "4", "--fixed-width", "4",
        "--fixed-modalities", "2", "--layers", "tensor,low_rank", "--batch", "2",
        "--units", "4", "--rank", "2", "--repeats", "1", "--min-sample-ms", "0",
        "--max-elements", "100", "--json",
    ])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(result))
    assert result["config"]["layers"] == ["tensor", "low_rank", "concat"]

    modalities, width = result["sweeps"]
    assert (modalities["key"], modalities["fixed"]) == ("modalities", {"width": 4})
    assert (width["key"], width["fixed"]) == ("width", {"modalities": 2})
    assert [(r["modalities"], r["layer"]) for r in modalities["rows"]] == [
        (2, "tensor"), (2, "low_rank"), (2, "concat"),
        (3, "tensor"), (3, "low_rank"), (3, "concat"),
    ]
    skipped = modalities["rows"][3]
    assert skipped["skipped"] == "skipped (125 fused features)"
    assert "ms_per_step" not in skipped
    measured = [r for r in modalities["rows"] + width["rows"] if "skipped" not in r]
    assert len(measured) == 8
    for row in measured:
        assert "error" not in row, row
        # The analytic count is checked against model.count_params() in the run.
        assert row["counted_params"] == row["params"]
        assert row["ms_per_step"] > 0
        assert row["peak_mib"] > 0
        assert row["step_mib"] >= 0
        assert row["time_vs_concat"] > 0 and row["peak_vs_concat"] > 0
        if row["layer"] == "concat":
            assert row["time_vs_concat"] == row["peak_vs_concat"] == 1.0
    assert modalities["rows"][0]["fused"] == 5 * 5  # prod (d + 1)
    assert modalities["rows"][1]["params"] == 2 * 2 * 5 * 4 + 2 + 4 + 4 + 1

    fits = {(f["layer"], f["metric"]): f for f in modalities["fits"]}
    assert set(fits) == {
        (layer, metric)
        for layer in ("tensor", "low_rank", "concat")
        for metric in ("ms_per_step", "params", "peak_mib")
    }
    assert fits["tensor", "ms_per_step"]["base"] is None  # one measured point
    assert fits["tensor", "params"]["base"] == pytest.approx(126 / 26)  # 5^M + 1
    assert fits["low_rank", "params"]["points"] == 2

    script.print_sweep(modalities, script.parse_args(["--repeats", "1"]))
    table = capsys.readouterr().out
    assert "skipped (125 fused features)" in table
    assert "x concat" in table and "base b" in table
