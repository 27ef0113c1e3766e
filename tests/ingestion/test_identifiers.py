"""Identifiers and e-mail addresses: control characters refused, a length
limit for identifiers, e-mails NFKC-normalised. Every expectation is worked
by hand from the rows written here."""

from __future__ import annotations

import csv

import pyarrow as pa
import pyarrow.parquet as pq

from tenure.ingestion.pipeline import ingest
from tests.conftest import query, write

LONGEST = "L" * 256  # the longest identifier allowed
TOO_LONG = "X" * 257

ORDERS = (
    "order_id,customer_id,placed_at,amount\n"
    "O1,C1,2024-01-05,10\n"  # line 2: kept
    '"O2","C\t2",2024-01-06,10\n'  # line 3: a tab, the 2nd character
    f"{LONGEST},C3,2024-01-07,10\n"  # line 4: kept, 256 characters
    f"{TOO_LONG},C4,2024-01-08,10\n"  # line 5: 257 characters
    "O5,C5\u0085,2024-01-09,10\n"  # line 6: NEL (U+0085), a C1 control, 3rd character
)
TAB = "holds a control character (U+0009 at character 2); remove it"
LONG = "is 257 characters long; an identifier has at most 256"
NEL = "holds a control character (U+0085 at character 3); remove it"


def _quarantine(path: str) -> list[tuple[str, str, str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [
            (row["_line"], row["_column"], row["_value"], row["_reason"])
            for row in csv.DictReader(fh)
        ]


def test_control_characters_and_over_long_identifiers_are_rejected(tmp_path, ws):
    r = ingest("orders", write(tmp_path / "orders.csv", ORDERS), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (5, 2, 3)
    assert _quarantine(r.quarantine) == [
        ("3", "customer_id", "C\t2", TAB),
        ("5", "order_id", TOO_LONG, LONG),
        ("6", "customer_id", "C5\u0085", NEL),
    ]
    stored = query(ws.settings.store, "SELECT order_id, customer_id FROM orders ORDER BY 2")
    assert stored == [("O1", "C1"), (LONGEST, "C3")]
    assert [(e["line"], e["column"], e["reason"]) for e in r.errors] == [
        (3, "customer_id", TAB),
        (5, "order_id", LONG),
        (6, "customer_id", NEL),
    ]


def test_the_cli_names_the_control_character_and_its_place(cli, tmp_path, store):
    path = write(tmp_path / "orders.csv", ORDERS)
    r = cli("ingest", "orders", path, "--store", store)
    assert r.code == 0, r.err
    assert f"orders.csv line 3, column 'customer_id': 'C\\t2' {TAB}" in r.err
    assert f"orders.csv line 5, column 'order_id': '{TOO_LONG}' {LONG}" in r.err
    assert f"orders.csv line 6, column 'customer_id': 'C5\\x85' {NEL}" in r.err
    data = cli("ingest", "orders", path, "--store", store, "--json").json()
    assert data["errors"][0] == {"line": 3, "column": "customer_id", "value": "C\t2", "reason": TAB}


def test_a_nul_in_a_parquet_identifier_or_email_is_rejected(tmp_path, ws):
    path = tmp_path / "customers.parquet"
    table = {
        "customer_id": ["C1", "C\x002", "C3"],
        "email": ["a@example.com", "b@example.com", "c\x00@example.com"],
    }
    pq.write_table(pa.table(table), path)
    r = ingest("customers", path, workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (3, 1, 2)
    assert [(e["line"], e["column"], e["value"], e["reason"]) for e in r.errors] == [
        (
            2,
            "customer_id",
            "C\x002",
            "holds a control character (U+0000 at character 2); remove it",
        ),
        (
            3,
            "email",
            "c\x00@example.com",
            "holds a control character (U+0000 at character 2); remove it",
        ),
    ]
    assert query(ws.settings.store, "SELECT customer_id, email FROM customers") == [
        ("C1", "a@example.com")
    ]


def test_a_line_break_inside_an_identifier_is_rejected(ws):
    import pandas as pd

    frame = pd.DataFrame(
        {
            "order_id": ["O1", "O2\n", "O3"],
            "customer_id": ["C1", "C1", "C1\r"],
            "placed_at": ["2024-01-05"] * 3,
            "amount": ["10"] * 3,
        }
    )
    r = ingest("orders", frame, workspace=ws)
    assert (r.accepted, r.rejected) == (1, 2)
    assert [(e["line"], e["column"], e["reason"]) for e in r.errors] == [
        (2, "order_id", "holds a control character (U+000A at character 3); remove it"),
        (3, "customer_id", "holds a control character (U+000D at character 3); remove it"),
    ]


CUSTOMERS = (
    "customer_id,email\n"
    "C1,\uff21\uff24\uff21\uff20\uff25\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d\n"
    "C2,\ufb01ona@example.com\n"  # the ligature "fi" (U+FB01)
    "C3,Bob@Example.COM\n"  # plain ASCII: lower-cased only
    "C4,zoe\u0308@example.com\n"  # e and a combining diaeresis: composed to U+00EB
    '"C5","x\t@example.com"\n'  # a tab
    "C6,not-an-email\n"
    "C7,\uff58\uff20\uff59\n"  # full-width x@y: NFKC gives x@y, no dot in the domain
    "C8,\uff21\uff24\uff21\uff20\uff25\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d\n"
)


def test_emails_are_nfkc_normalised_then_lower_cased(tmp_path, ws):
    r = ingest("customers", write(tmp_path / "customers.csv", CUSTOMERS), workspace=ws)
    assert (r.read, r.accepted, r.rejected) == (8, 5, 3)
    stored = query(ws.settings.store, "SELECT customer_id, email FROM customers ORDER BY 1")
    assert stored == [
        ("C1", "ada@example.com"),  # full-width ＡＤＡ＠Ｅｘａｍｐｌｅ．ｃｏｍ
        ("C2", "fiona@example.com"),
        ("C3", "bob@example.com"),
        ("C4", "zo\u00eb@example.com"),
        ("C8", "ada@example.com"),  # the same address again: normalised alike
    ]
    assert _quarantine(r.quarantine) == [
        ("6", "email", "x\t@example.com", TAB),
        ("7", "email", "not-an-email", "is not an e-mail address"),
        ("8", "email", "\uff58\uff20\uff59", "is not an e-mail address"),
    ]


def test_each_control_character_is_refused_and_its_neighbours_kept(tmp_path, ws):
    # Unicode's controls (category Cc) are U+0000-U+001F, U+007F and
    # U+0080-U+009F: 65 characters, each placed 3rd in an identifier; the
    # characters just outside (space, ~, U+00A0 no-break space) are kept;
    # a Parquet file's rows are numbered from 1
    controls = [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    kept = [0x20, 0x7E, 0xA0]
    ids = [f"ID{chr(c)}x" for c in controls + kept]
    path = tmp_path / "customers.parquet"
    pq.write_table(pa.table({"customer_id": ids}), path)
    r = ingest("customers", path, workspace=ws, max_errors=100)
    assert (r.read, r.accepted, r.rejected) == (68, 3, 65)
    with open(r.quarantine, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(row["_line"], row["_column"], row["_reason"]) for row in rows] == [
        (
            str(line),
            "customer_id",
            f"holds a control character (U+{c:04X} at character 3); remove it",
        )
        for line, c in enumerate(controls, start=1)
    ]
    stored = query(ws.settings.store, "SELECT customer_id FROM customers ORDER BY customer_id")
    assert stored == sorted((f"ID{chr(c)}x",) for c in kept)
