"""The rewards catalogue: a discount, a free product and partial redemption
through the ledger, stock and limits per member, and the catalogue's
settings; values worked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tenure.config import load_settings
from tenure.errors import ConfigError, InputError, LedgerError, NotFoundError
from tenure.loyalty import balance, earn, history
from tenure.loyalty.rewards import catalogue, partial_most, partial_value, redeem_reward
from tenure.loyalty_settings import Program, Reward
from tenure.store.ops_schema import loyalty_redemptions

AT = datetime(2026, 3, 1, tzinfo=UTC)
PROGRAM = Program(point_value=0.01, rewards=(
    Reward("5off", "discount", "5.00 off", points=500, value=5.0),
    Reward("mug", "product", "Mug", points=800, product_id="SKU-MUG", stock=1, per_member=1),
    Reward("pay", "partial", "Pay with points", max_share=0.5, min_points=100),
))  # fmt: skip


def test_a_discount_is_a_ledger_redemption_that_records_its_reward_once_per_key(ops):
    earn(ops, "C1", 2000, at=AT)
    first = redeem_reward(ops, "C1", "5off", key="o-1", program=PROGRAM, at=AT)
    assert (first.doc["balance"], first.doc["entry"]["reward"]) == (1500, "5off")
    assert first.doc["redemption"]["value"] == 5.0
    again = redeem_reward(ops, "C1", "5off", key="o-1", program=PROGRAM, at=AT)
    assert again.replayed and again.doc == first.doc
    assert [e["kind"] for e in history(ops, "C1")["entries"]] == ["earn", "redeem"]
    with ops.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(loyalty_redemptions)
                            ).scalar_one() == 1  # fmt: skip


def test_partial_redemption_pays_points_times_the_point_value_up_to_its_share(ops):
    earn(ops, "C1", 5000, at=AT)
    # 1,500 points at 0.01 pay 15.00 of an order of 42.50: 27.50 left to pay
    doc = redeem_reward(ops, "C1", "pay", points=1500, order_total=42.50, order_id="O-9",
                        program=PROGRAM, at=AT).doc  # fmt: skip
    assert doc["redemption"] == {
        "reward": "pay", "kind": "partial", "points": 1500, "value": 15.0, "product_id": None,
        "order_id": "O-9", "order_total": 42.5, "to_pay": 27.5,
    }  # fmt: skip
    assert doc["balance"] == 3500
    # half of 42.50 is 21.25: at most 2,125 points; 2,126 is refused and posts nothing
    assert partial_most(42.50, PROGRAM.reward("pay"), 0.01) == 2125
    with pytest.raises(InputError, match="at most 50% of it, 2,125 points"):
        redeem_reward(ops, "C1", "pay", points=2126, order_total=42.50, program=PROGRAM, at=AT)
    assert balance(ops, "C1", at=AT)["balance"] == 3500
    # 200 points a unit (0.005 each): 333 points are 1.665, paid as 1.66 (never more)
    assert str(partial_value(333, 0.005)) == "1.66"
    with pytest.raises(InputError, match="100 points or more"):
        redeem_reward(ops, "C1", "pay", points=99, order_total=42.50, program=PROGRAM, at=AT)
    with pytest.raises(InputError, match="needs the order's total"):
        redeem_reward(ops, "C1", "pay", points=100, program=PROGRAM, at=AT)
    with pytest.raises(InputError, match="total must be a number above 0; got -5"):
        redeem_reward(ops, "C1", "pay", points=100, order_total=-5, program=PROGRAM, at=AT)
    # a discount of 5.00 on an order of 42.50 leaves 37.50; on one of 4.00 it is refused
    doc = redeem_reward(ops, "C1", "5off", order_total=42.5, program=PROGRAM, at=AT).doc
    assert (doc["redemption"]["value"], doc["redemption"]["to_pay"]) == (5.0, 37.5)
    with pytest.raises(InputError, match="takes 5.00 off; the order's total is 4.00"):
        redeem_reward(ops, "C1", "5off", order_total=4, program=PROGRAM, at=AT)


def test_stock_and_the_limit_per_member_refuse_and_change_nothing(ops):
    earn(ops, "C1", 2000, at=AT)
    earn(ops, "C2", 2000, at=AT)
    doc = redeem_reward(ops, "C1", "mug", program=PROGRAM, at=AT).doc
    assert doc["redemption"]["product_id"] == "SKU-MUG" and doc["balance"] == 1200
    with pytest.raises(LedgerError, match="limit per member"):
        redeem_reward(ops, "C1", "mug", program=PROGRAM, at=AT)
    with pytest.raises(LedgerError, match="out of stock"):
        redeem_reward(ops, "C2", "mug", program=PROGRAM, at=AT)
    assert balance(ops, "C2", at=AT)["balance"] == 2000
    mug = next(r for r in catalogue(ops, program=PROGRAM)["rewards"] if r["id"] == "mug")
    assert (mug["redeemed"], mug["left"]) == (1, 0)


def test_an_unknown_reward_a_wrong_cost_and_too_few_points_are_refused(ops):
    earn(ops, "C1", 300, at=AT)
    with pytest.raises(NotFoundError, match=r"'nope' is not in the catalogue \(rewards: 5off"):
        redeem_reward(ops, "C1", "nope", program=PROGRAM, at=AT)
    with pytest.raises(InputError, match="costs 500 points; 400 were given"):
        redeem_reward(ops, "C1", "5off", points=400, program=PROGRAM, at=AT)
    with pytest.raises(LedgerError, match="has 300 points available; the reward '5off' needs 500"):
        redeem_reward(ops, "C1", "5off", program=PROGRAM, at=AT)
    assert balance(ops, "C1", at=AT)["balance"] == 300


def _settings(tmp_path, monkeypatch, text: str):
    path = tmp_path / "tenure.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    return load_settings()


def test_the_catalogue_is_read_from_tenure_toml_and_a_catalogue_file(tmp_path, monkeypatch):
    (tmp_path / "rewards.toml").write_text(
        '[[rewards]]\nid = "mug"\nkind = "product"\npoints = 800\nproduct_id = "SKU-MUG"\n'
    )
    s = _settings(tmp_path, monkeypatch, '[loyalty]\npoint_value = 0.005\nrewards_file = '
                  '"rewards.toml"\nrewards = [{id = "5off", kind = "discount", points = 500, '
                  'value = 5.0}]\n')  # fmt: skip
    program = Program.from_settings(s.loyalty)
    assert program.point_value == 0.005
    assert [(r.id, r.kind, r.points) for r in program.rewards] == [
        ("5off", "discount", 500), ("mug", "product", 800)]  # fmt: skip


@pytest.mark.parametrize(("text", "words"), [
    ('rewards = [{id = "x", kind = "coupon", points = 5}]', ["reward 'x'", "'kind'", "'coupon'"]),
    ('rewards = [{id = "x", kind = "discount", points = -5, value = 1}]',
     ["reward 'x'", "'points'", "-5"]),
    ('rewards = [{id = "p", kind = "partial", max_share = 1.5}]', ["'max_share'", "1.5"]),
    ('rewards = [{id = "x", kind = "discount", points = 5, value = 1, colour = "red"}]',
     ["unknown key 'colour'", "'red'"]),
    ('point_value = 0', ["'point_value'", "0"]),
    ('rewards_file = "missing.toml"', ["'rewards_file'", "missing.toml", "does not exist"]),
])  # fmt: skip
def test_a_bad_catalogue_setting_names_the_key_and_the_value(tmp_path, monkeypatch, text, words):
    with pytest.raises(ConfigError) as info:
        _settings(tmp_path, monkeypatch, f"[loyalty]\n{text}\n")
    message = str(info.value)
    assert "tenure.toml" in message
    for word in words:
        assert word in message


def test_the_cli_lists_rewards_and_redeems_one(cli, store, tmp_path, monkeypatch):
    path = tmp_path / "tenure.toml"
    path.write_text('[loyalty]\nrewards = [{id = "pay", kind = "partial", max_share = 0.5}]\n')
    monkeypatch.setenv("TENURE_CONFIG", str(path))
    assert cli("loyalty", "earn", "C1", "2000", "--store", store).code == 0
    doc = cli("loyalty", "rewards", "--store", store, "--json").json()
    assert [(r["id"], r["max_share"], r["redeemed"]) for r in doc["rewards"]] == [("pay", 0.5, 0)]
    r = cli("loyalty", "redeem", "C1", "1500", "--reward", "pay", "--order-total", "42.50",
            "--store", store, "--json")  # fmt: skip
    assert r.code == 0, r.err
    assert (r.json()["redemption"]["to_pay"], r.json()["balance"]) == (27.5, 500)
    human = cli("loyalty", "redeem", "C1", "100", "--reward", "pay", "--order-total", "10",
                "--store", store)  # fmt: skip
    assert "1.00 of an order of 10.00, 9.00 left to pay" in human.out
    # a reward outside the catalogue with POINTS is recorded as before
    assert cli("loyalty", "redeem", "C1", "10", "--reward", "coffee", "--store", store).code == 0
    r = cli("loyalty", "redeem", "C1", "--reward", "nope", "--store", store, "--json")
    assert r.code == 1 and "'nope' is not in the catalogue" in r.json()["error"]["message"]
    assert "Traceback" not in r.err


def test_without_a_catalogue_the_cli_names_the_settings_table_as_written(cli, store, tmp_path,
                                                                        monkeypatch):  # fmt: skip
    # "[loyalty]" is printed as is, not read as console markup and dropped
    monkeypatch.setenv("TENURE_CONFIG", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    assert cli("loyalty", "earn", "C1", "5", "--store", store).code == 0
    r = cli("loyalty", "rewards", "--store", store)
    assert r.code == 0 and "tenure.toml under [loyalty] (see docs/loyalty.md" in r.out
