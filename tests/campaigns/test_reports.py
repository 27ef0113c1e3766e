"""A campaign's report document: the status with its measurement, or the
reason it has none, on the store of tests/campaigns/test_launch.py."""

from __future__ import annotations

import json

from tenure.campaigns import definitions, launch_status, reports
from tenure.campaigns.consent import write_transaction
from tenure.campaigns.launch import launch

from .test_launch import AT, shop  # noqa: F401 - the fixture


def test_the_report_is_the_status_with_its_measurement(shop):  # noqa: F811
    settings, ops, template = shop
    draft = reports.campaign_report(settings, ops, "win-back")
    assert draft["measure"] is None and draft["unmeasured"].startswith("not launched yet")
    assert draft["assigned"] == 0
    launch(settings, ops, "win-back", at=AT)
    doc = reports.campaign_report(settings, ops, "win-back")
    assert {k: v for k, v in doc.items() if k not in ("measure", "unmeasured")} == (
        launch_status.status(ops, "win-back"))  # fmt: skip
    measured = launch_status.measure(settings, ops, "win-back")
    assert json.dumps(doc["measure"]["metrics"]) == json.dumps(measured["metrics"])
    sizes = {a["name"]: a["n"] for a in doc["measure"]["arms"]}
    assert sizes == {"control": doc["arms"]["holdout"], "treatment": doc["arms"]["treatment"]}
    # the measurement's key changes with the assignments, not with a send
    key = reports.cache_key(doc)
    assert key == reports.cache_key(launch_status.status(ops, "win-back"))
    assert key[0] == "win-back" and key[2] == doc["assigned"]


def test_a_campaign_with_nobody_assigned_says_so(shop):  # noqa: F811
    settings, ops, template = shop
    with write_transaction(ops) as conn:
        definitions.create(conn, definitions.spec(name="nobody", template=template,
                                                  audience=["lapsed:3000"], holdout=0.2))  # fmt: skip
    launch(settings, ops, "nobody", at=AT)
    doc = reports.campaign_report(settings, ops, "nobody")
    assert doc["assigned"] == 0 and doc["measure"] is None
    assert doc["unmeasured"] == reports.UNMEASURED["no_usable_rows"]
    assert reports.names(ops) == ["win-back", "nobody"]
