import json
import multiprocessing
import os

import numpy as np
import pytest

import mmzoo
from mmzoo.errors import DataError, ModelFileError
from mmzoo.export import (
    decode_predict_request,
    encode_predict_response,
    export_saved_model,
    load_predictor,
    load_serving_signature,
)


@pytest.fixture(scope="module")
def model():
    return mmzoo.build("gmu", encoder_units=[4])


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_saved_model(model, tmp_path_factory.mktemp("sm") / "gmu")


def _inputs(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "textual": rng.normal(size=(n, 1)).astype("float32"),
        "visual": rng.normal(size=(n, 1)).astype("float32"),
    }


def test_layout_and_signature(exported):
    assert exported.name == "1" and (exported / "saved_model.pb").is_file()
    signature = load_serving_signature(exported)
    _, inputs = signature.structured_input_signature
    assert sorted(inputs) == ["textual", "visual"]
    assert sorted(signature.structured_outputs) == ["gates", "probabilities"]


@pytest.mark.parametrize("fmt", ["row", "columnar"])
def test_rest_payloads_give_the_keras_outputs(model, exported, fmt):
    x = _inputs()
    if fmt == "row":
        body = {
            "instances": [{k: v[i].tolist() for k, v in x.items()} for i in range(3)]
        }
    else:
        body = {"inputs": {k: v.tolist() for k, v in x.items()}}
    payload = json.loads(json.dumps(body))  # what TF Serving's REST API receives
    predictor = load_predictor(exported)
    inputs, got_fmt = decode_predict_request(payload, predictor.specs)
    assert got_fmt == fmt
    served = predictor(inputs)
    expected = model(x)
    for key in ("probabilities", "gates"):
        np.testing.assert_allclose(served[key], expected[key], rtol=1e-5, atol=1e-6)
    response = encode_predict_response(served, fmt)
    if fmt == "row":
        assert len(response["predictions"]) == 3
        assert set(response["predictions"][0]) == {"gates", "probabilities"}
    else:
        assert np.shape(response["outputs"]["probabilities"]) == (3, 2)


@pytest.mark.parametrize(
    "payload,match",
    [
        ({"instances": [{"visual": [1.0]}]}, "Missing input 'textual'"),
        ({"inputs": {"visual": [[1.0]], "textual": [[1.0, 2.0]]}}, "has shape"),
        ({"inputs": {"visual": [[1.0]], "textual": [["a"]]}}, "must be float32"),
        ({"instances": []}, "empty batch"),
        ({"inputs": {"visual": [], "textual": []}}, "empty batch"),
        (
            {"inputs": {"visual": [[1.0]], "textual": [[1.0]], "x": [[1]]}},
            "Unknown input 'x'",
        ),
        ({"data": []}, "needs `instances`"),
        ({"inputs": {"visual": [[float("nan")]], "textual": [[1.0]]}}, "NaN"),
    ],
)
def test_bad_requests(exported, payload, match):
    specs = load_predictor(exported).specs
    with pytest.raises(DataError, match=match):
        decode_predict_request(payload, specs)


def test_never_overwrites_and_counts_versions(model, tmp_path):
    base = tmp_path / "gmu"
    assert export_saved_model(model, base).name == "1"
    assert export_saved_model(model, base).name == "2"
    with pytest.raises(ModelFileError, match="never overwritten"):
        export_saved_model(model, base, version=1)
    # No temporary directory is left behind.
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]


def _export_in_child(base, queue):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    import mmzoo
    from mmzoo.export import export_saved_model

    model = mmzoo.build("gmu", encoder_units=[4])
    try:
        export_saved_model(model, base, version=7)
        queue.put("ok")
    except ModelFileError as e:
        queue.put(f"error: {e}")


def test_two_exports_of_one_version_at_once(tmp_path):
    base = tmp_path / "gmu"
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_export_in_child, args=(base, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=240)
        assert p.exitcode == 0
    results = sorted(queue.get(timeout=5) for _ in procs)
    assert results[1] == "ok"
    assert results[0].startswith("error:") and "7" in results[0]
    assert sorted(p.name for p in base.iterdir()) == ["7"]
