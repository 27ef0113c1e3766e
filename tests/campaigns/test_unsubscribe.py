"""One-click unsubscribe links (RFC 8058) in the library: a changed link,
an expired one, and a replayed one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tenure.campaigns import consent
from tenure.campaigns import consent_unsubscribe as unsub
from tenure.campaigns.consent_settings import read
from tenure.config import Settings
from tenure.errors import PermissionDeniedError

RULES = read({"sending": {"unsubscribe_url": "https://shop.example/", "unsubscribe_days": 30}},
             "tenure.toml")  # fmt: skip
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def key(tmp_path):
    return unsub.workspace_secret(replace(Settings(), store=tmp_path))


def test_headers_are_rfc_8058s():
    assert unsub.headers("https://shop.example/u/x", mailto="unsub@shop.example") == {
        "List-Unsubscribe": "<https://shop.example/u/x>, <mailto:unsub@shop.example>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_the_secret_is_the_workspaces_and_kept(tmp_path):
    settings = replace(Settings(), store=tmp_path)
    assert unsub.workspace_secret(settings) == unsub.workspace_secret(settings)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600
    other = replace(settings, secret_key="s" * 40)
    assert unsub.workspace_secret(other) != unsub.workspace_secret(settings)


def test_a_link_withdraws_once_and_a_replay_records_nothing(sqlite_ops, key):
    url = unsub.link(key, RULES, "C1", "email", now=T0)
    assert url.startswith("https://shop.example/api/v1/consent/unsubscribe/")
    text = url.rsplit("/", 1)[1]
    consent.record(sqlite_ops, "C1", "email", "marketing", True, source="api", at=T0)
    first = unsub.unsubscribe(sqlite_ops, key, text, now=T0 + timedelta(days=1))
    again = unsub.unsubscribe(sqlite_ops, key, text, now=T0 + timedelta(days=2))
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["event_id"] == first["event_id"]
    events = consent.history(sqlite_ops, "C1")["events"]
    assert [(e["state"], e["source"]) for e in events] == [
        ("granted", "api"), ("withdrawn", "unsubscribe_link")]  # fmt: skip


def test_a_changed_link_is_refused(sqlite_ops, key):
    text = unsub.link(key, RULES, "C1", "email", now=T0).rsplit("/", 1)[1]
    payload, signature = text.split(".")
    other = unsub.token(key, "C2", "email", "marketing", T0 + timedelta(days=30))
    tampered = [
        f"{other.split('.')[0]}.{signature}",  # another customer's payload, this signature
        f"{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        payload,
        "",
    ]
    for bad in tampered:
        with pytest.raises(PermissionDeniedError, match="not one tenure signed"):
            unsub.unsubscribe(sqlite_ops, key, bad, now=T0)
    with pytest.raises(PermissionDeniedError):  # signed under another workspace's secret
        unsub.unsubscribe(sqlite_ops, b"k" * 32, text, now=T0)
    assert consent.history(sqlite_ops, "C1")["events"] == []


def test_a_link_expires_after_unsubscribe_days(sqlite_ops, key):
    text = unsub.link(key, RULES, "C1", "email", now=T0).rsplit("/", 1)[1]
    with pytest.raises(unsub.LinkExpiredError, match="expired on 2026-03-31"):
        unsub.unsubscribe(sqlite_ops, key, text, now=T0 + timedelta(days=30))
    doc = unsub.unsubscribe(sqlite_ops, key, text, now=T0 + timedelta(days=30, seconds=-1))
    assert doc["replayed"] is False


CLICKS = 8


def _click(url: str, key: bytes, text: str, start, results) -> None:
    from tenure.store.ops import OpsStore

    ops = OpsStore.open(url, create=False)
    start.wait()
    try:
        doc = unsub.unsubscribe(ops, key, text, now=T0 + timedelta(days=1))
        results.put(("replayed" if doc["replayed"] else "recorded", doc["event_id"]))
    except Exception as exc:  # noqa: BLE001 - reported to the test, which fails on it
        results.put(("error", repr(exc)))
    finally:
        ops.close()


def test_one_link_posted_by_many_processes_at_once_withdraws_once(ops, key):
    import multiprocessing

    text = unsub.link(key, RULES, "C1", "email", now=T0).rsplit("/", 1)[1]
    ops.engine.dispose()
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Barrier(CLICKS), ctx.Queue()
    workers = [ctx.Process(target=_click, args=(ops.url, key, text, start, results))
               for _ in range(CLICKS)]  # fmt: skip
    for w in workers:
        w.start()
    got = [results.get(timeout=300) for _ in workers]
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    assert sorted(kind for kind, _ in got) == ["recorded"] + ["replayed"] * (CLICKS - 1)
    assert len({event for _, event in got}) == 1
    assert [e["source"] for e in consent.history(ops, "C1")["events"]] == ["unsubscribe_link"]


def test_no_link_without_the_servers_address(key):
    from tenure.errors import ConfigError

    with pytest.raises(ConfigError, match="no unsubscribe_url is set") as caught:
        unsub.link(key, read({}, "tenure.toml"), "C1", "email")
    assert 'unsubscribe_url = "https://shop.example"' in caught.value.hint
