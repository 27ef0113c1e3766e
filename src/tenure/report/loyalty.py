"""The report's loyalty section, when the store's ledger has members:
members and tiers, redemptions, the liability with its breakage, and the
program's effect on buying again beside the naive comparison. Every
number is :func:`tenure.loyalty.program.report`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tenure.config import Settings
from tenure.report.formatting import Formatter


def _share(fmt: Formatter, value: float | None, sign: bool = False) -> str:
    if value is None:
        return fmt.MISSING
    text = fmt.percent(100 * value)
    return ("+" + text) if sign and value > 0 else text


def section(settings: Settings, fmt: Formatter) -> dict[str, Any] | None:
    """The section, or None when the store has no loyalty program."""
    from tenure.loyalty import program
    from tenure.store.ops import OpsStore

    url = settings.ops_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return None
    ops = OpsStore.open(url, create=False)
    try:
        if not program.has_program(ops):
            return None
        doc = program.report(ops, settings)
    finally:
        ops.close()
    liab, b = doc["liability"], doc["liability"]["breakage"]
    source = ("from the program's own history" if b["source"] == "history"
              else "from the settings (breakage_fallback): too few lots have closed")  # fmt: skip
    tables = [
        {
            "title": "Liability",
            "header": [
                "points outstanding",
                "point value",
                "before breakage",
                "expected breakage",
                "liability",
            ],  # fmt: skip
            "rows": [
                [
                    fmt.number(liab["outstanding_points"]),
                    fmt.money(liab["point_value"], 4),
                    fmt.money(liab["gross_value"]),
                    _share(fmt, b["rate"]),
                    fmt.money(liab["liability"]),
                ]
            ],  # fmt: skip
            "numeric": [0, 1, 2, 3, 4],
        },
        {
            "title": "Tiers",
            "header": ["tier", "threshold", "members"],
            "rows": [
                [t["name"], fmt.number(t["threshold"]), fmt.number(t["members"])]
                for t in doc["tiers"]
            ]
            + [["(no tier)", "", fmt.number(doc["no_tier"])]],  # fmt: skip
            "numeric": [1, 2],
        },
    ]
    text = (
        f"{fmt.number(doc['members'])} members; {fmt.number(doc['redemptions']['count'])} "
        f"redemptions of {fmt.number(doc['redemptions']['points'])} points. Liability "
        f"{fmt.money(liab['liability'])}: {fmt.number(liab['outstanding_points'])} points "
        f"outstanding × {fmt.money(liab['point_value'], 4)}, less expected breakage of "
        f"{_share(fmt, b['rate'])} ({source})."
    )
    notes = []
    e = doc["effect"]
    if e is not None and e["estimate"]["difference"] is not None:
        est, naive = e["estimate"], e["naive"]
        tables.append({
            "title": f"Bought again within {e['horizon_days']} days of joining",
            "header": ["comparison", "members", "non-members", "difference", "95 % interval"],
            "rows": [
                ["matched on RFM before joining", _share(fmt, est["member_rate"]),
                 _share(fmt, est["control_rate"]), _share(fmt, est["difference"], True),
                 f"{_share(fmt, est['ci_low'], True)} … {_share(fmt, est['ci_high'], True)}"],
                ["naive: all members against all non-members", _share(fmt, naive["member_rate"]),
                 _share(fmt, naive["control_rate"]), _share(fmt, naive["difference"], True),
                 f"{_share(fmt, naive['ci_low'], True)} … {_share(fmt, naive['ci_high'], True)}"],
            ],
            "numeric": [1, 2, 3, 4],
        })  # fmt: skip
        notes.append(
            f"{fmt.number(e['matched'])} members matched to non-members with the same purchase "
            f"days and recency on the day they joined, {fmt.number(e['unmatched'])} without a "
            "match; the naive comparison mixes the program's effect with who chooses to join"
        )
    elif e is not None:
        notes += e["notes"]
    else:
        notes.append(str(doc["effect_unavailable"]))
    return {"id": "loyalty", "title": "Loyalty program", "text": text, "tables": tables,
            "notes": notes}  # fmt: skip
