"""The hub zoo configs (`gmu_mosi_hub`, `gmu_mosi_bert`) through the CLI, offline.

Their pretrained encoders are downloads; here they are overridden (`--set
encoders=...`, which replaces the whole `encoders` key) to a tiny TF-Hub-format
text embedding saved by the test, and to a tiny `BertBackbone` with a small
vocabulary file. Each trains 1 epoch on MOSI with transcripts, exports, and
predicts on raw strings from the `.keras` file and from the SavedModel. Without
overrides, offline, each config fails with one line naming the handle / preset
and its cache directory.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from mmzoo.cli import main
from mmzoo.testing.offline_encoders import offline_overrides

# A tiny model, fast to train for 1 epoch (the architecture is the config's).
SMALL = ["--set", "encoder_units=[8]", "--set", "hidden_dim=4"]
SMALL += ["--set", "train.batch_size=128", "--epochs", "1"]


def _cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def _request(data_dir, path, n=3):
    from mmzoo.data import load_data

    data = load_data("mosi", "val", data_dir, with_transcripts=True)
    rows = [
        {
            k: str(v[i]) if k == "transcript" else v[i].tolist()
            for k, v in data.features.items()
        }
        for i in range(n)
    ]
    path.write_text(json.dumps({"instances": rows}))
    return path


def _train_export_predict(capsys, tmp_path, data_dir, name, encoders):
    run = tmp_path / "run"
    code, out, err = _cli(
        capsys,
        "train",
        name,
        "--data-dir",
        data_dir,
        "--out",
        run,
        "--set",
        f"encoders={json.dumps(encoders)}",
        *SMALL,
    )
    assert code == 0, err
    # stdout: the Keras progress bar, then one JSON line.
    assert 0.0 <= json.loads(out.splitlines()[-1])["val"]["accuracy"] <= 1.0
    code, out, err = _cli(
        capsys, "export", name, "--model", run / "model.keras", "--out", tmp_path / "sm"
    )
    assert code == 0, err
    version = json.loads(out)["saved_model"]

    request = _request(data_dir, tmp_path / "request.json")
    predictions = []
    for model in (run / "model.keras", version):
        code, out, err = _cli(
            capsys, "predict", name, "--model", model, "--input", request
        )
        assert code == 0, err
        rows = json.loads(out)["predictions"]
        predictions.append(np.array([r["probabilities"] for r in rows]))
    keras_file, saved_model = predictions
    assert keras_file.shape == (3, 2)
    np.testing.assert_allclose(keras_file.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(saved_model, keras_file, atol=1e-5)

    signature = tf.saved_model.load(version).signatures["serving_default"]
    spec = signature.structured_input_signature[1]["transcript"]
    assert spec.dtype == tf.string and spec.shape.as_list() == [None]


@pytest.mark.parametrize("name", ["gmu_mosi_hub", "gmu_mosi_bert"])
def test_zoo_config_trains_exports_and_predicts_on_strings(
    capsys, tmp_path, data_dir, name
):
    encoders = offline_overrides(name, tmp_path / "encoders")["encoders"]
    _train_export_predict(capsys, tmp_path, data_dir, name, encoders)


@pytest.mark.parametrize(
    "name, variable, what",
    [
        ("gmu_mosi_hub", "TFHUB_CACHE_DIR", "https://tfhub.dev/google/nnlm-en-dim50/2"),
        ("gmu_mosi_bert", "KAGGLEHUB_CACHE", "bert_tiny_en_uncased"),
    ],
)
def test_uncached_encoder_offline_is_a_clear_error(
    capsys, tmp_path, data_dir, monkeypatch, name, variable, what
):
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(variable, str(cache))
    run = tmp_path / "run"
    code, _, err = _cli(capsys, "train", name, "--data-dir", data_dir, "--out", run)
    assert code == 2, err
    # stderr: the data loader's notes, then one error line, no traceback.
    lines = [line for line in err.splitlines() if line.startswith("mmzoo: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert what in lines[0] and str(cache) in lines[0] and variable in lines[0]
    assert not run.exists()  # a config that cannot build writes nothing
