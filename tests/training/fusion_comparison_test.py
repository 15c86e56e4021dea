import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402

from mmzoo.data import load_data  # noqa: E402
from mmzoo.training.fusion_comparison import (  # noqa: E402
    MOSI_VARIANTS,
    Variant,
    accuracy_table,
    compare_fusions,
    robustness_table,
    summarize_robustness,
    summarize_runs,
)
from mmzoo.viz.fusion import plot_fusion_accuracy, plot_robustness  # noqa: E402


def test_mosi_variants_cover_the_fusion_configs():
    configs = {v.config for v in MOSI_VARIANTS}
    for name in (
        "gmu_mosi",
        "concat",
        "additive",
        "tfn",
        "lmf",
        "mag",
        "transformer",
        "gated_attention",
        "late",
    ):
        assert name in configs
    unimodal = [
        v.modalities for v in MOSI_VARIANTS if v.modalities and len(v.modalities) == 1
    ]
    assert sorted(unimodal) == [("audio",), ("text",), ("video",)]


def test_compare_fusions_on_tiny_synthetic_data(tmp_path):
    train = load_data("synthetic", "train", num_train=64).subset(np.arange(64))
    val = load_data("synthetic", "val", num_val=32)
    small = {"encoder_units": [4], "head_units": []}
    variants = [
        Variant("late", "late", {**small, "modality_dropout": 0.2}),
        Variant(
            "visual only", "concat", {**small, "fusion": {"name": "none"}}, ("visual",)
        ),
    ]
    lines = []
    results = compare_fusions(
        variants, train, val, seeds=(3,), epochs=1, log=lines.append
    )
    assert len(lines) == 2
    assert [(r["variant"], r["seed"]) for r in results["runs"]] == [
        ("late", 3),
        ("visual only", 3),
    ]
    assert results["runs"][1]["modalities"] == ["visual"]
    # Robustness only for the multimodal variant: full + 2 modalities x 2 ways.
    assert len(results["robustness"]) == 5
    assert {r["variant"] for r in results["robustness"]} == {"late"}

    # A second seed, faked: summaries are mean and sample std over seeds.
    runs = results["runs"] + [dict(results["runs"][0], seed=4, accuracy=0.25)]
    summary = summarize_runs(runs)
    accuracies = [results["runs"][0]["accuracy"], 0.25]
    assert summary[0]["seeds"] == 2 and summary[1]["seeds"] == 1
    assert summary[0]["accuracy"] == np.mean(accuracies)
    assert summary[0]["accuracy_std"] == np.std(accuracies, ddof=1)
    table = accuracy_table(summary)
    assert "| late | textual+visual |" in table and " ± " in table
    robust = summarize_robustness(results["robustness"])
    assert set(robust["late"]) == {
        ("none", None),
        ("mask", "textual"),
        ("noise", "textual"),
        ("mask", "visual"),
        ("noise", "visual"),
    }
    table = robustness_table(robust, ["textual", "visual", "extra"])
    assert "−visual (noise)" in table and "—" in table  # no `extra` modality

    plot_fusion_accuracy(summary, chance=0.5).savefig(tmp_path / "acc.png")
    plot_robustness(robust, ["textual", "visual"]).savefig(tmp_path / "rob.png")
    assert (tmp_path / "acc.png").stat().st_size > 0
    assert (tmp_path / "rob.png").stat().st_size > 0
