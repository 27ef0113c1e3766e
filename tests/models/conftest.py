"""Shared model fixtures: lifetimes as the independent reference, and the
CDNOW summary of the published estimates."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.conftest import import_lifetimes, lifetimes_dir


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The CDNOW summary of Fader, Hardie and Lee (2005), in weeks, as the
    lifetimes package ships it: 2,357 customers."""
    frame = pd.read_csv(lifetimes_dir() / "datasets" / "cdnow_customers_summary.csv")
    return frame.rename(columns={"frequency": "x", "recency": "t_x"})


@pytest.fixture(scope="module")
def lifetimes():
    return import_lifetimes()
