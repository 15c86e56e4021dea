import doctest
import importlib
import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from mmzoo.config import configs_dir, read_yaml
from mmzoo.data import MultimodalData
from mmzoo.errors import ConfigError
from mmzoo.export import export_saved_model, load_serving_signature
from mmzoo.models import MMIM
from mmzoo.models.mmim import (
    TranscriptTokenizer,
    binary_metrics,
    build_vocabulary,
    regression_metrics,
    training,
)

SHAPES = {"audio": [5], "video": [4], "text": [6]}
TRANSCRIPTS = np.array(
    ["good film", "BAD movie!", "really good", "not bad at all", "weak plot", "loved"],
    dtype=object,
)
TINY_BERT = {
    "type": "bert",
    "num_layers": 1,
    "num_heads": 1,
    "hidden_dim": 8,
    "intermediate_dim": 8,
    "sequence_length": 8,
    "dropout": 0.0,
}
TINY_FEATURES = {"type": "features", "units": [8], "output_dim": 6}
TERMS = {"loss", "task_loss", "cpc_loss", "ba_bound", "likelihood", "entropy"}


def _tiny(text=TINY_FEATURES, **kwargs):
    args = dict(
        input_shapes=SHAPES,
        text_encoder=text,
        vocabulary=build_vocabulary(TRANSCRIPTS) if text["type"] == "bert" else None,
        audio_encoder={"units": [8], "output_dim": 4},
        video_encoder={"units": [8], "output_dim": 4},
        fusion_units=8,
        entropy_memory_size=8,
        text_learning_rate=1e-2,
    )
    args.update(kwargs)
    model = MMIM(**args)
    model.compile(keras.optimizers.Adam(1e-2, clipnorm=1.0))
    return model


def _batch(n=6, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = {
        m: (scale * rng.normal(size=(n, *s))).astype("float32")
        for m, s in SHAPES.items()
    }
    x["transcript"] = TRANSCRIPTS[np.arange(n) % len(TRANSCRIPTS)]
    return x, (np.arange(n) % 2).astype("int32")


def _snapshot(model):
    return {id(w): np.array(w.numpy()) for w in model.weights}


def _changed(model, before, weights):
    return [not np.array_equal(w.numpy(), before[id(w)]) for w in weights]


def test_config_round_trip_and_zoo_config_keys():
    # A BERT config (vocabulary, resolved spec) round-trips in the preset test.
    model = _tiny(estimator_units=[5], cpc_units=[3], task="regression")
    config = model.get_config()
    params = inspect.signature(MMIM.__init__).parameters
    assert set(config) == set(params) - {"self", "kwargs"}
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model)
    )
    assert isinstance(revived, MMIM) and revived.get_config() == config
    raw = read_yaml(configs_dir() / "mmim.yaml")
    assert raw["model"] == "mmim" and set(raw["config"]) <= set(config)


def test_fit_in_graph_mode_logs_every_term():
    model = _tiny(alpha=0.3, beta=0.2)
    x, y = _batch()
    x["unused"] = np.zeros((6, 2), "float32")  # keys the model does not take
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(6)
    before = _snapshot(model)
    history = model.fit(ds, validation_data=ds, shuffle=False, verbose=0).history
    logs = {k: v[-1] for k, v in history.items()}
    assert TERMS | {"accuracy"} <= set(logs)
    assert {f"val_{k}" for k in TERMS} <= set(logs)
    assert all(np.isfinite(v) for v in logs.values()), logs
    total = logs["task_loss"] + 0.3 * logs["cpc_loss"] - 0.2 * logs["ba_bound"]
    np.testing.assert_allclose(logs["loss"], total, rtol=1e-4, atol=1e-5)
    assert all(_changed(model, before, model.trainable_weights))
    projections = [w for p in model.entropy_projections.values() for w in p.weights]
    assert not any(_changed(model, before, projections))
    assert int(model.entropy_estimators["audio"].memory_count.numpy()) == 6


def _group_weights(model):
    groups = training.variable_groups(model)
    assert groups["text"] and groups["estimator"] and groups["main"]
    return groups


def test_stage_one_changes_only_the_estimators():
    model = _tiny(TINY_BERT)
    groups = _group_weights(model)
    before = _snapshot(model)
    logs = model.train_stage(_batch(), stage=1)
    assert set(logs) == {"likelihood"} and np.isfinite(logs["likelihood"])
    assert all(_changed(model, before, groups["estimator"]))
    estimator_ids = {id(w) for w in groups["estimator"]}
    others = [w for w in model.weights if id(w) not in estimator_ids]
    assert not any(_changed(model, before, others))


def test_stage_two_leaves_the_estimators_unchanged():
    model = _tiny(TINY_BERT)
    groups = _group_weights(model)
    before = _snapshot(model)
    logs = model.train_stage(_batch(), stage=2)
    assert TERMS - {"likelihood"} <= set(logs)
    assert not any(_changed(model, before, groups["estimator"]))
    assert all(_changed(model, before, groups["text"] + groups["main"]))
    assert model.optimizer.iterations.numpy() == 1
    assert model.text_optimizer.iterations.numpy() == 1
    assert model.estimator_optimizer.iterations.numpy() == 0


def _adversarial(case):
    x, y = _batch(n=2 if case == "batch_of_2" else 6)
    if case == "constant":
        x = {
            k: np.ones_like(v) if k != "transcript" else v[:1].repeat(6)
            for k, v in x.items()
        }
    if case == "one_class":
        y = np.ones_like(y)
    if case == "large":
        x = {k: v * 1e4 if k != "transcript" else v for k, v in x.items()}
    return x, y


@pytest.mark.parametrize("policy", ["float32", "mixed_bfloat16"])
def test_adversarial_batches_give_finite_losses_and_gradients(policy):
    keras.config.set_dtype_policy(policy)
    model = _tiny(TINY_BERT)
    groups = training.variable_groups(model)
    for case in ("constant", "one_class", "batch_of_2", "large"):
        x, y = _adversarial(case)
        with tf.GradientTape(persistent=True) as tape:
            reps = model.representation_model(model.model_inputs(x), training=True)
            loss, logs = training.main_objective(model, reps, y, training=True)
            fixed = {k: ops.stop_gradient(v) for k, v in reps.items()}
            likelihood = sum(training.pair_likelihoods(model, fixed, True).values())
            estimator_loss = -likelihood
        grads = tape.gradient(loss, groups["main"] + groups["text"])
        grads += tape.gradient(estimator_loss, groups["estimator"])
        assert all(np.all(np.isfinite(v)) for v in logs.values()), (case, logs)
        assert all(g is not None for g in grads), case
        assert all(np.all(np.isfinite(tf.convert_to_tensor(g))) for g in grads), case
        for stage in (1, 2):
            logs = model.train_stage((x, y), stage=stage)
            assert all(np.all(np.isfinite(v)) for v in logs.values()), (case, logs)
        assert all(np.all(np.isfinite(w.numpy())) for w in model.weights), case
        probabilities = model(model.model_inputs(x))["probabilities"]
        assert keras.backend.standardize_dtype(probabilities.dtype) == "float32"


def test_regression_task_and_lstm_encoders():
    shapes = {"audio": [3, 5], "video": [4], "text": [6]}
    model = _tiny(
        input_shapes=shapes,
        task="regression",
        audio_encoder={"type": "lstm", "units": 4, "output_dim": 4},
    )
    x, _ = _batch()
    x["audio"] = np.random.default_rng(1).normal(size=(6, 3, 5)).astype("float32")
    x["audio"][:2, 2:] = 0.0  # padded frames are masked
    y = np.array([-2.0, 0.0, 1.4, 3.0, -0.6, 0.2], "float32")
    logs = model.train_stage((x, y), stage=2)
    assert "mae" in logs and "accuracy" not in logs
    assert model(x)["prediction"].shape == (6, 1)


def test_raw_transcripts_export_and_keras_round_trip(tmp_path):
    model = _tiny(TINY_BERT)
    x, y = _batch()
    model.train_stage((x, y), stage=2)
    inputs = model.model_inputs(x)
    expected = {k: np.asarray(v) for k, v in model(inputs).items()}
    version_dir = export_saved_model(model, tmp_path / "sm")
    signature = load_serving_signature(version_dir)
    assert signature.structured_input_signature[1]["transcript"].dtype == tf.string
    for n in (1, 5):
        served = signature(**{k: np.asarray(v[:n]) for k, v in inputs.items()})
        for key, value in expected.items():
            np.testing.assert_allclose(served[key], value[:n], atol=1e-5)
    model.save(tmp_path / "mmim.keras")
    loaded = keras.saving.load_model(tmp_path / "mmim.keras")
    for key, value in loaded(inputs).items():
        np.testing.assert_allclose(value, expected[key], atol=1e-6)
    assert loaded.text_optimizer is not None and loaded.estimator_optimizer.built
    # A fresh process (no keras-hub imported) serves it, through the payloads.
    script = (
        "import json, sys, numpy as np\n"
        "from mmzoo.export import decode_predict_request, load_predictor\n"
        "p = load_predictor(sys.argv[1])\n"
        "inputs, _ = decode_predict_request(json.loads(sys.argv[2]), p.specs)\n"
        "print(json.dumps(p(inputs)['probabilities'].tolist()))\n"
    )
    rows = [
        {
            "transcript": str(x["transcript"][i]),
            "audio": x["audio"][i].tolist(),
            "video": x["video"][i].tolist(),
        }
        for i in range(2)
    ]
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(version_dir),
            json.dumps({"instances": rows}),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    served = json.loads(out.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(served, expected["probabilities"][:2], atol=1e-5)


def test_tokenizer_and_vocabulary():
    vocabulary = build_vocabulary(TRANSCRIPTS)
    assert vocabulary[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert vocabulary == build_vocabulary(list(TRANSCRIPTS))
    tokenizer = TranscriptTokenizer(vocabulary, sequence_length=6)
    ids = tokenizer(np.array(["Good  FILM", "goodly"]))["token_ids"].numpy()
    good, film = vocabulary.index("good"), vocabulary.index("film")
    assert ids[0].tolist() == [2, good, film, 3, 0, 0]
    assert 1 not in ids[1]  # unseen word: spelled in pieces, not [UNK]
    config = keras.saving.serialize_keras_object(tokenizer)
    assert keras.saving.deserialize_keras_object(config).vocabulary == vocabulary


def test_data_overrides_build_vocabulary_from_transcripts():
    x, y = _batch()
    data = MultimodalData(features=x, labels=y, num_classes=2)
    overrides = MMIM.data_overrides(data)
    assert overrides["input_shapes"] == SHAPES
    assert overrides["vocabulary"] == build_vocabulary(TRANSCRIPTS)


def test_regression_metrics_by_hand():
    pred = [2.6, -1.4, 0.2, -0.2, 0.0, 3.8]
    true = [3.0, -1.0, 0.0, 0.4, -2.0, 2.4]
    m = regression_metrics(pred, true)
    # |errors| = .4 .4 .2 .6 2 1.4 -> 5.0 / 6
    assert m["mae"] == pytest.approx(5.0 / 6)
    assert m["corr"] == pytest.approx(np.corrcoef(pred, true)[0, 1])
    # clip to [-3, 3] and round: pred 3 -1 0 -0 0 3, true 3 -1 0 0 -2 2
    assert m["acc7"] == pytest.approx(4 / 6)
    # >= 0: pred T F T F T T, true T F T T F T -> 4 / 6
    assert m["acc2_nonneg"] == pytest.approx(4 / 6)
    # zeros left out (index 2): pred > 0 T F F F T, true T F T F T -> 4 / 5
    assert m["acc2_non0"] == pytest.approx(4 / 5)
    # > 0: pred T F T F F T, true T F F T F T -> 4 / 6
    assert m["acc2_zero_negative"] == pytest.approx(4 / 6)
    # non0 (subset positions 0-4): positives {0, 2, 4}: tp 2, fp 0, fn 1 -> f1
    # 4/5; negatives {1, 3}: tp 2, fp 1, fn 0 -> 4/5; weighted by support: 4/5
    assert m["f1_non0"] == pytest.approx(0.8)
    assert m["num_samples"] == 6


def test_regression_metrics_edge_cases():
    m = regression_metrics([1.0, 1.0], [0.0, 0.0])
    assert np.isnan(m["corr"]) and np.isnan(m["acc2_non0"]) and m["mae"] == 1.0
    with pytest.raises(ValueError, match="same length"):
        regression_metrics([1.0], [1.0, 2.0])


def test_binary_metrics_by_hand():
    m = binary_metrics([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]], [0, 1, 0, 1])
    # pred 0 1 1 0: accuracy 1/2; class 1: tp 1 fp 1 fn 1 -> f1 1/2
    assert m["accuracy"] == 0.5 and m["f1"] == 0.5 and m["f1_weighted"] == 0.5
    assert binary_metrics([0.2, 0.7], [0, 1])["accuracy"] == 1.0


@pytest.mark.parametrize(
    "change,match",
    [
        ({"alpha": -1.0}, "alpha"),
        ({"task": "ordinal"}, "task"),
        ({"num_classes": 3}, "num_classes"),
        ({"fusion_dropout": 1.5}, "fusion_dropout"),
        ({"text_learning_rate": 0.0}, "text_learning_rate"),
        ({"text_encoder": {"type": "gpt"}}, "text_encoder"),
        ({"text_encoder": {**TINY_BERT, "layers": 2}}, "text_encoder"),
        ({"audio_encoder": {"type": "lstm"}}, "audio_encoder"),
        ({"input_shapes": {"audio": [5]}}, "input_shapes"),
        ({"text_encoder": TINY_BERT, "vocabulary": ["a", "b"]}, "vocabulary"),
        ({"text_encoder": TINY_BERT, "vocabulary": None}, "vocabulary"),
    ],
)
def test_bad_config_names_the_argument(change, match):
    args = {"input_shapes": SHAPES, "text_encoder": TINY_FEATURES, **change}
    with pytest.raises(ValueError, match=match) as info:
        MMIM(**args)
    assert isinstance(info.value, ConfigError)


def test_offline_preset_gives_a_clear_error(monkeypatch):
    import keras_hub

    def offline(*args, **kwargs):
        raise ConnectionError("Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(keras_hub.models.BertBackbone, "from_preset", offline)
    with pytest.raises(ConfigError, match="preset 'bert_base_en_uncased'.*network"):
        MMIM(SHAPES, text_encoder={"preset": "bert_base_en_uncased"})


def test_preset_weights_are_copied_and_rebuilt_without_download(monkeypatch):
    import keras_hub

    vocabulary = build_vocabulary(TRANSCRIPTS)
    source = keras_hub.models.BertBackbone(
        vocabulary_size=len(vocabulary),
        num_layers=1,
        num_heads=1,
        hidden_dim=8,
        intermediate_dim=8,
        max_sequence_length=32,
    )
    tokenizer = keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=True)
    monkeypatch.setattr(
        keras_hub.models.BertBackbone, "from_preset", lambda *a, **k: source
    )
    monkeypatch.setattr(
        keras_hub.models.BertTokenizer, "from_preset", lambda *a, **k: tokenizer
    )
    model = MMIM(
        SHAPES,
        text_encoder={"preset": "tiny", "sequence_length": 8, "pooling": "pooled"},
    )
    assert model.text_encoder["type"] == "bert"
    assert model.text_encoder["max_sequence_length"] == 32
    assert model.vocabulary == vocabulary
    for a, b in zip(model.text_backbone.weights, source.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    def offline(*args, **kwargs):
        raise AssertionError("no download when rebuilding from the config")

    monkeypatch.setattr(keras_hub.models.BertBackbone, "from_preset", offline)
    config = model.get_config()
    assert MMIM.from_config(config).get_config() == config


@pytest.mark.parametrize("module", ["metrics", "text", "model"])
def test_docstring_examples(module):
    mod = importlib.import_module(f"mmzoo.models.mmim.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
