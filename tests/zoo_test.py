"""Every zoo model (one per zoo_configs/*.yaml) goes through the same checks."""

import numpy as np
import pytest

import mmzoo
from mmzoo.builder import build_from_config
from mmzoo.data import load_data, to_dataset
from mmzoo.export import export_saved_model, load_keras_model, load_serving_signature
from mmzoo.testing.offline_encoders import offline_overrides
from mmzoo.training.trainer import data_options

SELF_CONTAINED_SOURCES = ("synthetic",)


def _small_data(cfg, request, n=16):
    source, options = data_options(cfg)
    data_dir = None
    if source not in SELF_CONTAINED_SOURCES:
        data_dir = request.getfixturevalue("data_dir")
    data = load_data(source, "train", data_dir, **options)
    return data.subset(np.arange(min(n, len(data))))


def _feed(model, data, index):
    return {k: data.features[k][index] for k in model.input}


def _assert_outputs_close(actual, expected, what):
    assert set(actual) == set(expected), what
    for key in expected:
        np.testing.assert_allclose(
            np.asarray(actual[key]),
            np.asarray(expected[key]),
            rtol=1e-5,
            atol=1e-5,
            err_msg=f"{what}: output {key!r}",
        )


@pytest.mark.parametrize("name", mmzoo.list_models())
def test_zoo_model(name, request, tmp_path):
    # Configs naming pretrained downloads get tiny local encoders instead.
    cfg = mmzoo.load_config(name, offline_overrides(name, tmp_path / "encoders"))
    data = _small_data(cfg, request)
    model = build_from_config(cfg, data=data)

    # One fit step, finite loss.
    history = model.fit(to_dataset(data, 8), epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])

    # .keras round trip (safe mode): same outputs.
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = load_keras_model(path)
    feed = _feed(model, data, np.arange(4))
    expected = model(feed, training=False)
    _assert_outputs_close(reloaded(feed, training=False), expected, ".keras reload")

    # Export, reload the SavedModel, compare at two batch sizes.
    version_dir = export_saved_model(model, tmp_path / "savedmodels" / name)
    assert version_dir.name == "1"
    signature = load_serving_signature(version_dir)
    for batch in (1, 5):
        feed = _feed(model, data, np.arange(batch))
        served = signature(**{k: np.asarray(v) for k, v in feed.items()})
        _assert_outputs_close(served, model(feed, training=False), f"batch {batch}")
