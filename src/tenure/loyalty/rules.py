"""Earning rules: see :mod:`tenure.loyalty_rules`, where they are read and
checked with the settings (a layer below the ledger, so that reading
``tenure.toml`` does without it)."""

from __future__ import annotations

from tenure.loyalty_rules import (
    BONUS_EVENTS,
    PURCHASE,
    EarningRules,
    load_rules_file,
    parse_rules,
)

__all__ = ["BONUS_EVENTS", "PURCHASE", "EarningRules", "load_rules_file", "parse_rules"]
