import inspect

import keras
import numpy as np
import pytest

import mmzoo
from mmzoo.config import configs_dir, read_yaml
from mmzoo.errors import ConfigError
from mmzoo.export import export_saved_model, load_serving_signature
from mmzoo.losses import kl_standard_normal
from mmzoo.models import MVAE

SHAPES = {"img": [8, 8], "lab": [4], "vec": [5, 3]}
TYPES = {"img": "image", "lab": "label", "vec": "features"}
SUBSETS = ["img", "lab", "vec", "img_lab", "img_vec", "lab_vec", "img_lab_vec"]


def _tiny(run_eagerly=True, **kwargs):
    """A tiny MVAE; eager by default (tracing the 7-subset step costs ~10 s:
    `test_train_step_logs_every_term` and tests/zoo_test.py run it compiled)."""
    args = dict(
        num_classes=4,
        latent_dim=3,
        hidden_units=[8],
        conv_filters=[4],
        classifier_units=[],
        seed=0,
    )
    args.update(kwargs)
    model = MVAE(SHAPES, TYPES, **args)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        run_eagerly=run_eagerly,
        **model.default_compile_args(),
    )
    return model


def _batch(n=6, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    x = {
        "img": rng.uniform(size=(n, 8, 8)).astype("float32"),
        "lab": np.eye(4, dtype="float32")[y],
        "vec": rng.normal(size=(n, 5, 3)).astype("float32"),
        "presence": np.ones((n, 3), "float32"),
    }
    return x, y


def _assert_outputs_close(a, b, atol=1e-6):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_allclose(np.asarray(a[key]), np.asarray(b[key]), atol=atol)


def test_config_round_trip_and_zoo_config_keys():
    model = _tiny(modality_weights={"vec": 2.0}, classify_from=["img", "vec"])
    config = model.get_config()
    params = inspect.signature(MVAE.__init__).parameters
    assert set(config) == set(params) - {"self", "kwargs"}
    assert MVAE.from_config(config).get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(model)
    )
    assert isinstance(revived, MVAE) and revived.get_config() == config
    for name in ("mvae", "mvae_mnist"):
        raw = read_yaml(configs_dir() / f"{name}.yaml")
        assert raw["model"] == "mvae"
        assert set(raw["config"]) <= set(config)


def test_outputs():
    model = _tiny()
    x, _ = _batch()
    out = model(x)
    assert out["probabilities"].shape == (6, 4)
    np.testing.assert_allclose(np.sum(out["probabilities"], -1), 1.0, rtol=1e-5)
    assert out["latent_mean"].shape == out["latent_variance"].shape == (6, 3)
    for m, shape in SHAPES.items():
        assert tuple(out[f"reconstruction_{m}"].shape) == (6, *shape)
    img = np.asarray(out["reconstruction_img"])
    assert img.min() >= 0 and img.max() <= 1


def test_train_step_logs_every_term():
    model = _tiny(run_eagerly=False, modality_weights={"vec": 2.0}, kl_weight=0.5)
    x, y = _batch()
    before = [w.numpy().copy() for w in model.trainable_weights]
    logs = {
        k: v[-1] for k, v in model.fit(x, y, batch_size=6, verbose=0).history.items()
    }
    for name in SUBSETS:
        members = name.split("_")
        for key in [f"nelbo_{name}", f"kl_{name}"] + [
            f"recon_{m}_{name}" for m in members
        ]:
            assert key in logs and np.isfinite(logs[key]), key
        # -ELBO = sum of weighted reconstructions + beta * KL, term by term.
        weighted = sum(
            (2.0 if m == "vec" else 1.0) * logs[f"recon_{m}_{name}"] for m in members
        )
        np.testing.assert_allclose(
            logs[f"nelbo_{name}"], weighted + 0.5 * logs[f"kl_{name}"], rtol=1e-4
        )
    assert {"loss", "classification", "accuracy", "kl_scale"} <= set(logs)
    changed = [
        not np.array_equal(w.numpy(), b)
        for w, b in zip(model.trainable_weights, before)
    ]
    assert all(changed)  # every weight (each encoder, decoder, head) trains


def test_kl_term_matches_product_of_experts_by_hand():
    model = _tiny()
    x, y = _batch()
    _, logs = model.objective(x, y)
    mus, logvars = zip(*(model.encoders[m](x[m]) for m in model.modalities))
    mu, logvar = np.stack(mus, 1).astype("float64"), np.stack(logvars, 1)
    for i, m in enumerate(model.modalities):
        precision = np.exp(-logvar[:, i])
        joint_var = 1.0 / (1.0 + precision)
        joint_mu = precision * mu[:, i] * joint_var
        kl = -0.5 * np.sum(1 + np.log(joint_var) - joint_mu**2 - joint_var, 1)
        np.testing.assert_allclose(logs[f"kl_{m}"], kl.mean(), rtol=1e-4)
    precision = np.exp(-logvar)
    total = 1.0 + precision.sum(1)
    joint_mu = (precision * mu).sum(1) / total
    expected = kl_standard_normal(joint_mu, np.log(1.0 / total))
    np.testing.assert_allclose(logs["kl_img_lab_vec"], np.mean(expected), rtol=1e-4)


def test_sampled_subsets_and_missing_modalities_in_training():
    model = _tiny(subsets="sampled", num_random_subsets=2)
    x, y = _batch()
    x["presence"][:, 2] = 0.0  # `vec` never observed
    x["vec"][:] = np.nan  # ... so its values must not matter
    logs = model.fit(x, y, batch_size=6, verbose=0).history
    assert {"nelbo_random_0", "nelbo_random_1", "nelbo_img_lab_vec"} <= set(logs)
    assert "nelbo_img_lab" not in logs
    assert all(np.isfinite(v[-1]) for v in logs.values())
    assert logs["recon_vec_vec"][-1] == 0.0 and logs["kl_vec"][-1] == 0.0


def test_any_subset_at_inference():
    model = _tiny()
    x, _ = _batch()
    full = {k: v for k, v in x.items() if k != "presence"}
    # Missing keys == a presence mask == any value in the masked input.
    only_img = model.encode({"img": x["img"]})
    mask = np.tile([[1.0, 0.0, 0.0]], (6, 1)).astype("float32")
    masked = model.encode(full, presence=mask)
    garbage = dict(full, lab=np.full_like(x["lab"], 1e3), vec=np.full_like(x["vec"], 7))
    garbage_masked = model.encode(garbage, presence=mask)
    for a, b, c in zip(only_img, masked, garbage_masked):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    # Per-example presence, as a dict; nothing observed gives the prior.
    per_example = {
        "img": np.array([1, 0, 0, 1, 1, 0]),
        "lab": np.zeros(6),
        "vec": np.array([1, 0, 1, 1, 0, 0]),
    }
    mean, variance = model.encode(full, presence=per_example)
    np.testing.assert_array_equal(mean[1], 0.0)
    np.testing.assert_array_equal(variance[1], 1.0)
    assert sorted(model.reconstruct({"vec": x["vec"]})) == sorted(SHAPES)
    assert model.classify({"lab": x["lab"]}).shape == (6, 4)
    with pytest.raises(ValueError, match="Unknown modalities"):
        model.encode({"audio": x["img"]})
    with pytest.raises(ValueError, match="at least one modality"):
        model.encode({})


def test_kl_annealing_callback():
    model = _tiny(kl_warmup_epochs=1.0)
    x, y = _batch(8)
    assert float(model.kl_scale.numpy()) == 0.0
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0).history
    # Two steps per epoch: scale 0 then 0.5 in epoch 1, then 1.
    assert history["kl_scale"] == pytest.approx([0.5, 1.0])


def test_mixed_precision_fit_is_finite():
    keras.config.set_dtype_policy("mixed_float16")
    model = _tiny()
    x, y = _batch()
    logs = model.fit(x, y, batch_size=6, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values())
    for value in model(x).values():
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        assert np.all(np.isfinite(value))


def test_evaluate_subsets():
    model = _tiny()
    x, y = _batch()
    data = mmzoo.data.MultimodalData(features=x, labels=y, num_classes=4)
    results = model.evaluate_subsets(data)
    assert sorted(results) == sorted(SUBSETS)
    for name, r in results.items():
        assert sorted(r["reconstruction_error"]) == sorted(SHAPES)
        own = sum(r["reconstruction_error"][m] for m in r["modalities"])
        assert r["elbo"] == pytest.approx(-(own + r["kl"]))
        assert 0.0 <= r["accuracy"] <= 1.0


def test_plots(tmp_path):
    from mmzoo.viz.mvae import (
        latent_traversal,
        plot_latent_traversal,
        plot_reconstructions,
    )

    model = _tiny()
    x, y = _batch()
    data = mmzoo.data.MultimodalData(features=x, labels=y, num_classes=4)
    plot_reconstructions(model, data, path=tmp_path / "recon.png")
    grid = latent_traversal(model, "img", steps=5)
    assert grid.shape == (3, 5, 8, 8)
    plot_latent_traversal(model, "vec", dims=[0, 2], path=tmp_path / "walk.png")
    assert (tmp_path / "recon.png").stat().st_size > 0
    assert (tmp_path / "walk.png").stat().st_size > 0


@pytest.mark.parametrize(
    "change,match",
    [
        ({"modality_types": {**TYPES, "img": "video"}}, "modality_types"),
        ({"modality_types": {"img": "image"}}, "modality_types"),
        ({"input_shapes": {**SHAPES, "img": [9, 8]}}, "divisible"),
        ({"subsets": "some"}, "subsets"),
        ({"classify_from": ["audio"]}, "classify_from"),
        ({"latent_dim": 0}, "latent_dim"),
    ],
)
def test_bad_config(change, match):
    args = {"input_shapes": SHAPES, "modality_types": TYPES, **change}
    with pytest.raises(ConfigError, match=match):
        MVAE(**args)


def test_all_subsets_needs_at_most_four_modalities():
    shapes = {f"m{i}": [2] for i in range(5)}
    types = {m: "features" for m in shapes}
    with pytest.raises(ConfigError, match="N <= 4"):
        MVAE(shapes, types)
    assert len(MVAE(shapes, types, subsets="sampled").training_subsets) == 6


def test_served_model_handles_any_subset(tmp_path):
    """The serving signature takes every modality plus `presence`: a masked
    modality's values do not matter, and the outputs equal `classify` /
    `encode` on the present modalities alone."""
    model = _tiny()
    x, _ = _batch()
    signature = load_serving_signature(export_saved_model(model, tmp_path / "sm"))
    presence = np.tile([[1.0, 0.0, 1.0]], (6, 1)).astype("float32")
    garbage = dict(x, lab=np.full_like(x["lab"], 50.0), presence=presence)
    served = {k: np.asarray(v) for k, v in signature(**garbage).items()}
    assert {"probabilities", "latent_mean", "latent_variance"} <= set(served)
    assert {f"reconstruction_{m}" for m in SHAPES} <= set(served)
    present = {"img": x["img"], "vec": x["vec"]}
    mean, variance = model.encode(present)
    np.testing.assert_allclose(served["latent_mean"], mean, atol=1e-5)
    np.testing.assert_allclose(served["latent_variance"], variance, atol=1e-5)
    np.testing.assert_allclose(
        served["probabilities"], model.classify(present), atol=1e-5
    )
