import keras
import numpy as np
import pytest
import tensorflow as tf

import mmzoo
from mmzoo.data import load_data, to_dataset
from mmzoo.errors import ConfigError
from mmzoo.models import GMUClassifier
from mmzoo.training.trainer import evaluate_model


def test_get_config_is_exactly_the_constructor_args():
    model = GMUClassifier({"a": 3, "b": 4}, num_classes=3)
    assert set(model.get_config()) == set(GMUClassifier.constructor_args())
    clone = GMUClassifier.from_config(model.get_config())
    assert clone.get_config() == model.get_config()


def test_outputs_and_gate_shapes():
    model = GMUClassifier({"b": 4, "a": 3}, num_classes=3, hidden_dim=5)
    assert model.modalities == ["a", "b"]
    out = model({"a": np.ones((2, 3), "float32"), "b": np.ones((2, 4), "float32")})
    assert out["probabilities"].shape == (2, 3)
    assert out["gates"].shape == (2, 2, 5)
    np.testing.assert_allclose(np.sum(out["probabilities"], -1), 1.0, rtol=1e-5)


def test_synthetic_reaches_paper_accuracy():
    """The GMU paper's synthetic task: expected test accuracy >= 0.97."""
    train = load_data("synthetic", "train", seed=0)
    test = load_data("synthetic", "test", seed=0)
    model = mmzoo.build("gmu", data=train)
    model.fit(to_dataset(train, 64, shuffle=True), epochs=10, verbose=0, shuffle=False)
    metrics = evaluate_model(model, test)
    assert metrics["accuracy"] >= 0.97, metrics


def test_gates_follow_the_informative_modality():
    """Where only the visual value separates the classes, z_visual is larger."""
    train = load_data("synthetic", "train", seed=0)
    model = mmzoo.build("gmu", data=train)
    model.fit(to_dataset(train, 64, shuffle=True), epochs=10, verbose=0, shuffle=False)
    from mmzoo.data.synthetic import generate

    visual, textual, _, m = generate(2000, seed=7)
    out = model({"visual": visual, "textual": textual})
    z_visual = np.asarray(out["gates"])[:, model.modalities.index("visual")]
    # Per hidden unit, compare the mean gate when visual carries the class
    # (m = 0) with when textual does (m = 1): the GMU must shift towards the
    # informative modality in most units.
    shift = z_visual[m == 0].mean(0) - z_visual[m == 1].mean(0)
    assert np.mean(shift > 0) >= 0.5, shift


def test_multilabel():
    rng = np.random.default_rng(0)
    model = mmzoo.build(
        "gmu",
        input_dims={"image": 6, "text": 5},
        num_classes=23,
        task="multilabel",
        encoder_units=[8],
    )
    x = {
        "image": rng.normal(size=(8, 6)).astype("float32"),
        "text": rng.normal(size=(8, 5)).astype("float32"),
    }
    y = rng.integers(0, 2, (8, 23)).astype("float32")
    model.fit(x, y, epochs=1, verbose=0)
    p = np.asarray(model(x)["probabilities"])
    assert p.shape == (8, 23) and np.all((p > 0) & (p < 1))
    assert not np.allclose(p.sum(-1), 1.0)  # independent sigmoids, not softmax


def test_mask_input_drops_a_modality():
    model = GMUClassifier({"a": 3, "b": 4}, use_mask_input=True)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2, 3)).astype("float32")
    b = rng.normal(size=(2, 4)).astype("float32")
    mask = np.array([[1, 0], [1, 0]], "float32")
    out1 = model({"a": a, "b": b, "modality_mask": mask})
    out2 = model({"a": a, "b": b * 100 + 3, "modality_mask": mask})
    np.testing.assert_allclose(out1["probabilities"], out2["probabilities"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out1["gates"])[:, 0], 1.0)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_dims": {"a": 3}}, "at least 2 modality"),
        ({"input_dims": {"a": 3, "b": 0}}, r"input_dims\['b'\]"),
        ({"input_dims": {"a": 3, "b": 2}, "task": "regression"}, "task='regression'"),
        ({"input_dims": {"a": 3, "b": 2}, "num_classes": 1}, "num_classes=1"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GMUClassifier(**kwargs)


def test_mixed_precision_build_and_step():
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = mmzoo.build("gmu", encoder_units=[4])
    x = {"visual": np.ones((4, 1), "float32"), "textual": np.ones((4, 1), "float32")}
    model.fit(x, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    out = model(x)
    assert out["probabilities"].dtype == "float32"
    assert all(w.dtype == "float32" for w in model.weights)


def test_data_overrides_give_string_features_width_one():
    # MOSI with transcripts: a (n,) string feature next to the vectors; its
    # encoder (TF-Hub text embedding, keras-hub backbone + tokenizer) takes
    # the strings, so its input_dims entry is only a placeholder.
    from mmzoo.data.base import MultimodalData

    data = MultimodalData(
        features={
            "audio": np.zeros((2, 7), "float32"),
            "transcript": np.array(["a b", "c"], dtype=object),
        },
        labels=np.array([0, 1]),
        num_classes=2,
    )
    overrides = GMUClassifier.data_overrides(data)
    assert overrides["input_dims"] == {"audio": 7, "transcript": 1}
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c"]
    model = GMUClassifier(
        overrides["input_dims"],
        hidden_dim=4,
        encoders={
            "transcript": {
                "keras_hub": "BertBackbone",
                "config": {
                    "num_layers": 1,
                    "num_heads": 1,
                    "hidden_dim": 4,
                    "intermediate_dim": 4,
                    "max_sequence_length": 6,
                },
                "vocabulary": vocab,
            }
        },
    )
    out = model({k: tf.constant(v) for k, v in data.features.items()})
    assert out["gates"].shape == (2, 2, 4)
