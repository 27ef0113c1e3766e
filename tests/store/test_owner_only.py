"""A store holds customers' data: the folders tenure makes are its owner's
only (0700) and so are the files (0600), whatever the umask says."""

from __future__ import annotations

import os
import stat

import pytest

from tests.conftest import write


@pytest.fixture
def open_umask():
    """The usual umask, under which new files are readable by everyone."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_a_new_store_and_its_quarantine_are_the_owners_only(cli, tmp_path, open_umask):
    store = tmp_path / "deep" / "store"
    orders = write(tmp_path / "orders.csv",
                   "order_id,customer_id,placed_at,amount,currency\n"
                   "O1,C1,2024-01-02,5,EUR\nO2,C1,not a date,5,EUR\n")  # fmt: skip
    r = cli("ingest", "orders", orders, "--store", store, "--json")
    assert r.code == 0, r.err
    quarantined = store / "quarantine"
    files = list(quarantined.glob("*.csv"))
    assert len(files) == 1  # the row with the bad date
    assert _mode(store) == 0o700
    for folder in (quarantined, store / ".tmp"):
        assert _mode(folder) == 0o700, folder
    for path in (store / "analytics.duckdb", store / "ops.sqlite", files[0]):
        assert _mode(path) == 0o600, path
    # a plain file made under the same umask is readable by others: the modes are tenure's
    assert _mode(write(tmp_path / "plain.txt", "x")) == 0o644
