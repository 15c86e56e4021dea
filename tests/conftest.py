import atexit
import os
import shutil
import tempfile
from pathlib import Path

from mmzoo import envvars  # imports nothing: TensorFlow starts later

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# The data's tfds records (mmzoo.data.tfds_builders): prepared once per test
# session in a directory of its own (subprocesses inherit it), never the
# user's ~/tensorflow_datasets.
_TFDS_DIR = tempfile.mkdtemp(prefix="mmzoo-test-tfds-")
os.environ[envvars.TFDS_DIR] = _TFDS_DIR
atexit.register(shutil.rmtree, _TFDS_DIR, ignore_errors=True)

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def _data_dir():
    return Path(os.environ.get(envvars.DATA_DIR, "data")).expanduser()


@pytest.fixture(scope="session")
def data_dir():
    """The real-data directory (`$MMZOO_DATA_DIR`, then `./data`).

    Skips when absent, except under CI=true where a missing directory fails.
    """
    path = _data_dir()
    if not path.is_dir():
        message = (
            f"data directory {path} not found: set MMZOO_DATA_DIR to the shared "
            "data (../shared/data in CI)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path.resolve()


@pytest.fixture(autouse=True)
def _reset_keras_state():
    import keras

    keras.config.set_dtype_policy("float32")
    keras.utils.set_random_seed(1234)
    yield
    keras.config.set_dtype_policy("float32")
