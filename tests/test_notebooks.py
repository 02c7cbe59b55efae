"""The notebooks in examples/notebooks/ run top to bottom, and are committed without outputs.

Each runs in a fresh Jupyter kernel (nbclient, the `python3` kernel of ipykernel) with
`L2L_NOTEBOOK_TINY=1`, which its first cell reads to shrink training and evaluation to
seconds. The test checks that every cell ran without error and that the notebook ends with
its result and a picture; the figures themselves are what a reader runs the notebook for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "examples" / "notebooks"
DATA = {"01_quickstart.ipynb": "mnist_dir", "04_few_shot_omniglot.ipynb": "omniglot_dir"}
"""The notebooks that read real data, and the fixture that finds it (or skips)."""


def notebooks() -> list[str]:
    return sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))


def test_there_are_the_four_notebooks():
    assert notebooks() == ["01_quickstart.ipynb", "02_write_your_own_learner.ipynb",
                           "03_gradient_meta_learning.ipynb", "04_few_shot_omniglot.ipynb"]


@pytest.mark.parametrize("name", notebooks())
def test_notebook_is_committed_without_outputs(name):
    import nbformat

    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{name}: cells {dirty} hold outputs; clear them before committing "
                       f"(jupyter nbconvert --clear-output --inplace {NOTEBOOKS / name}).")


@pytest.mark.parametrize("name", notebooks())
def test_notebook_runs_top_to_bottom_at_tiny_settings(name, request, monkeypatch, tmp_path):
    import nbclient
    import nbformat

    if name in DATA:
        data = Path(request.getfixturevalue(DATA[name]))
        monkeypatch.setenv("L2L_DATA_DIR", str(data.parent if data.name == "omniglot"
                                                  else data))
    monkeypatch.setenv("L2L_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")  # the notebooks switch to inline themselves
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    last = [cell for cell in notebook.cells if cell.cell_type == "code"][-1]
    assert any("image/png" in o.get("data", {}) for o in last.outputs), \
        f"{name} must end with a picture drawn inline"
    text = "".join(o.get("text", "") for o in outputs)
    assert "95% CI" in text, f"{name} must print a score with its confidence interval"
