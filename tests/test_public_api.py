"""The names a user imports: every one resolves, and importing tenure stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tenure
import tenure.analysis
import tenure.models


@pytest.mark.parametrize(
    "module",
    [tenure, tenure.models, tenure.analysis],
    ids=["tenure", "tenure.models", "tenure.analysis"],
)
def test_every_public_name_resolves(module):
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        module.nope  # noqa: B018


def test_the_python_api_is_the_library_layer():
    from tenure.analysis import fitting
    from tenure.models.btyd import BetaGeo

    assert tenure.fit is fitting.fit and tenure.predict is fitting.predict
    assert tenure.models.BetaGeo is BetaGeo


def test_importing_tenure_does_not_load_the_heavy_libraries():
    code = (
        "import sys, tenure, tenure.models; "
        "print(sorted(m for m in ('sklearn', 'lifelines', 'lightgbm', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
