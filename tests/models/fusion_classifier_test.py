import numpy as np
import pytest

from mmzoo.errors import ConfigError
from mmzoo.export import load_keras_model
from mmzoo.models import FusionClassifier

DIMS = {"audio": 3, "text": 5, "video": 4}

FUSIONS = {
    "concat": {"name": "concat"},
    "concat_projected": {"name": "concat", "units": 6},
    "additive": {"name": "additive", "units": 6},
    "multiplicative": {"name": "multiplicative", "units": 6},
    "bilinear": {"name": "bilinear", "units": 6},
    "tensor": {"name": "tensor"},
    "low_rank": {"name": "low_rank", "units": 6, "rank": 2},
    "polynomial": {"name": "polynomial", "units": 6, "order": 2, "rank": 2},
    "gated_attention": {"name": "gated_attention", "units": 6},
    "gmu": {"name": "gmu", "units": 6},
    "mag": {"name": "mag", "primary": "text", "dropout": 0.0},
    "transformer_cross": {"name": "transformer", "units": 4, "num_heads": 2},
    "transformer_early": {"name": "transformer", "units": 4, "mode": "early"},
}


def _inputs(dims, batch=3, seed=0):
    rng = np.random.default_rng(seed)
    return {m: rng.normal(size=(batch, d)).astype("float32") for m, d in dims.items()}


def test_get_config_is_exactly_the_constructor_args():
    model = FusionClassifier(
        DIMS, num_classes=3, encoder_units=[4], fusion={"name": "low_rank", "units": 5}
    )
    assert set(model.get_config()) == set(FusionClassifier.constructor_args())
    clone = FusionClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


@pytest.mark.parametrize("key", sorted(FUSIONS))
def test_each_fusion_gives_probabilities(key):
    fusion = FUSIONS[key]
    # Bilinear fusion is defined for exactly 2 modalities.
    dims = {"audio": 3, "text": 5} if fusion["name"] == "bilinear" else DIMS
    model = FusionClassifier(dims, num_classes=3, encoder_units=[4], fusion=fusion)
    out = model(_inputs(dims))
    probs = np.asarray(out["probabilities"])
    assert probs.shape == (3, 3)
    assert probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_extra_outputs():
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "gated_attention", "units": 6, "return_weights": True},
    )
    out = model(_inputs(DIMS))
    assert sorted(out) == ["attention_weights", "probabilities"]
    assert out["attention_weights"].shape == (3, 3)
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "gmu", "units": 6, "return_gates": True},
    )
    assert model(_inputs(DIMS))["gates"].shape == (3, 3, 6)


def test_multilabel_and_raw_features():
    model = FusionClassifier(
        DIMS, num_classes=4, task="multilabel", encoder_units=[], head_units=[5]
    )
    probs = np.asarray(model(_inputs(DIMS))["probabilities"])
    assert probs.shape == (3, 4)
    assert np.all((probs > 0) & (probs < 1))


def test_unknown_fusion_name():
    with pytest.raises(ConfigError, match="fusion.*'nope'|'nope'.*fusion"):
        FusionClassifier(DIMS, fusion={"name": "nope"})


@pytest.mark.parametrize(
    "fusion",
    [
        {"name": "low_rank", "units": 0},
        {"name": "low_rank", "units": 4, "bogus": 1},
        {"name": "transformer", "units": 5, "num_heads": 2},
        {"name": "bilinear", "units": 4},  # 3 modalities
        {"name": "mag", "primary": "speech"},
        {"units": 4},
        "concat",
    ],
)
def test_bad_fusion_arguments(fusion):
    with pytest.raises(ConfigError, match="fusion"):
        FusionClassifier(DIMS, encoder_units=[4], fusion=fusion)


def test_keras_round_trip(tmp_path):
    model = FusionClassifier(
        DIMS,
        encoder_units=[4],
        fusion={"name": "transformer", "units": 4, "mode": "early"},
        head_units=[3],
    )
    feed = _inputs(DIMS)
    expected = model(feed, training=False)
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = load_keras_model(path)
    assert isinstance(reloaded, FusionClassifier)
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_allclose(
        reloaded(feed, training=False)["probabilities"],
        expected["probabilities"],
        rtol=1e-5,
        atol=1e-6,
    )
