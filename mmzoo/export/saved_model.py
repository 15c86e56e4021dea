"""SavedModel export in TF Serving's `<base>/<name>/<version>/` layout."""

import os
import re
import shutil
import uuid
from pathlib import Path

import keras
import tensorflow as tf

from mmzoo.errors import ModelFileError

SERVING_KEY = "serving_default"


def input_specs(model):
    """`{name: tf.TensorSpec}` of a model's inputs, named after the inputs."""
    structure = model.input
    if not isinstance(structure, dict):
        raise ModelFileError(
            f"Export needs a model with named (dict) inputs; {model.name} has "
            f"{type(structure).__name__} inputs."
        )
    return {
        name: tf.TensorSpec(
            (None,) + tuple(t.shape[1:]),
            keras.backend.standardize_dtype(t.dtype),
            name=name,
        )
        for name, t in structure.items()
    }


def op_error_line(error):
    """One line from a `tf.errors.OpError`: the text of a failed `tf.debugging`
    assertion (graph or eager), else the first line of its message."""
    message = error.message
    match = re.search(r"assertion failed: \[(.*?)\]\s*(\n|\[\[|$)", message, re.S)
    if match is None:
        match = re.search(r"Summarized data: b?(['\"])(.*?)\1", message, re.S)
        text = match.group(2) if match else message.strip().split("\n")[0]
    else:
        text = match.group(1)
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
    return " ".join(text.split())


def assert_non_empty(inputs):
    """`inputs` (a dict of batched tensors) behind in-graph checks that no batch
    is empty: an empty one raises `InvalidArgumentError` naming the input."""
    checks = [
        tf.debugging.Assert(
            tf.shape(value)[0] > 0,
            [
                # No quotes: TF escapes them in an assertion's message.
                f"Input `{name}` is an empty batch (0 examples); send at least "
                "one example."
            ],
        )
        for name, value in inputs.items()
    ]
    with tf.control_dependencies(checks):
        return {name: tf.identity(value) for name, value in inputs.items()}


def next_version(base_dir):
    """One more than the largest integer version in `base_dir` (1 if none)."""
    base_dir = Path(base_dir)
    versions = (
        [
            int(p.name)
            for p in base_dir.iterdir()
            if p.is_dir() and re.fullmatch(r"\d+", p.name)
        ]
        if base_dir.is_dir()
        else []
    )
    return max(versions, default=0) + 1


def export_saved_model(
    model, base_dir, version=None, extra_signatures=None, serving_fn=None
):
    """Export `model` to `base_dir/<version>/` with a `serving_default` signature.

    The signature takes the model's inputs by name and returns its named outputs.
    The export is written to a temporary directory beside the target and renamed
    into place: it never overwrites an existing version and never leaves a
    partial one. Of two exports of the same version at once, one succeeds and the
    other raises `ModelFileError`.

    Args:
        model: a `keras.Model` with dict inputs and outputs.
        base_dir: path. The model's directory (`savedmodels/<name>`).
        version: int, optional. Defaults to the next free version.
        extra_signatures: dict name -> `tf.function` with an input signature.
        serving_fn: `tf.function` with an input signature, optional. Replaces
            the default `serving_default` (the captioner serves image bytes).

    Returns:
        The path of the written version directory.
    """
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = next_version(base_dir)
    if not isinstance(version, int) or version < 0:
        raise ModelFileError(
            f"--version must be a non-negative integer, got {version!r}"
        )
    final = base_dir / str(version)
    if final.exists():
        raise ModelFileError(
            f"{final} already exists: a SavedModel version is never overwritten; "
            "pick another --version"
        )
    specs = input_specs(model)

    @tf.function(input_signature=[specs])
    def serve(inputs):
        return model(assert_non_empty(inputs), training=False)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_KEY, serving_fn or serve)
    for name, fn in (extra_signatures or {}).items():
        archive.add_endpoint(name, fn)
    tmp = base_dir / f".tmp-{version}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        archive.write_out(str(tmp), verbose=False)
        try:
            # rename() refuses a non-empty target: the loser of a race fails here.
            os.rename(tmp, final)
        except OSError:
            raise ModelFileError(
                f"{final} was written by another export meanwhile; not overwritten"
            )
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def load_serving_signature(path):
    """Load `path` (a version directory) and return its serving signature."""
    path = Path(path)
    if not (path / "saved_model.pb").is_file():
        raise ModelFileError(f"No SavedModel at {path} (saved_model.pb missing)")
    try:  # registers the TF Text ops of exported keras-hub tokenizers (MMIM)
        import tensorflow_text  # noqa: F401
    except ImportError:
        pass
    try:
        loaded = tf.saved_model.load(str(path))
    except Exception as e:  # TF raises many types for corrupt protobufs
        raise ModelFileError(f"Cannot load the SavedModel at {path}: {e}")
    if SERVING_KEY not in loaded.signatures:
        raise ModelFileError(f"{path} has no {SERVING_KEY!r} signature")
    signature = loaded.signatures[SERVING_KEY]
    signature._mmzoo_owner = loaded  # keep the loaded object alive
    return signature
