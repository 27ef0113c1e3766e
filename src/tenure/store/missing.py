"""The error of a command run on a store that is not there: one message and
one hint, whichever layer finds the store missing (the analytics database,
the operational store, the kept predictions)."""

from __future__ import annotations

from pathlib import Path

from tenure.errors import ConfigError

HINT = "Ingest data first (tenure ingest KIND FILE), try `tenure demo`, or pass --store."


def no_store_error(store: Path | str) -> ConfigError:
    """``there is no tenure store at STORE.``, with how to make one; ``store``
    is the folder, or the operational store's URL with its password hidden."""
    return ConfigError(f"there is no tenure store at {store}.", hint=HINT)
