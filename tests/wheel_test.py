"""The built wheel carries zoo_configs: `mmzoo.build("gmu")` works outside the repo."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_build_from_installed_wheel(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
        ],
        check=True,
        timeout=600,
    )
    (wheel,) = dist.glob("mmzoo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "mmzoo/zoo_configs/gmu.yaml" in names
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import mmzoo, pathlib; "
        f"assert pathlib.Path(mmzoo.__file__).is_relative_to({str(site)!r}), "
        "mmzoo.__file__; "
        "m = mmzoo.build('gmu'); print(sorted(mmzoo.list_models())[0], m.name)"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "gmu_classifier" in result.stdout
