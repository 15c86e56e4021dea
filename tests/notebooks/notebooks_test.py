"""Every notebook runs top to bottom in quick mode (MMZOO_QUICK=1)."""

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from mmzoo import envvars

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    if any(k in path.stem for k in ("digits", "mosi", "caption", "fusion")):
        # Notebooks on real data need the data directory.
        data = Path(os.environ.get(envvars.DATA_DIR, "data"))
        if not data.is_dir():
            if os.environ.get("CI") == "true":
                pytest.fail(f"data directory {data} not found")
            pytest.skip(f"data directory {data} not found")
        monkeypatch.setenv(envvars.DATA_DIR, str(data.resolve()))
    monkeypatch.setenv(envvars.QUICK, "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
