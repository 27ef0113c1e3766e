"""Schemathesis against the OpenAPI schema: requests generated from the
schema, valid and not, to every operation, with a key of every scope;
no answer may be a server error, and every error has the one shape."""

from __future__ import annotations

import pytest

from tests.web.conftest import build_store, needs_web, serve
from tests.web.test_api import SHAPE

EXAMPLES = 12


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    needs_web()
    try:
        import schemathesis
    except ModuleNotFoundError:
        from tests.conftest import skip_or_fail

        skip_or_fail("schemathesis is not installed (pip install -e '.[test]')")
    from tenure.access import apikeys
    from tenure.store.workspace import Workspace
    from tenure.web import create_app

    settings = build_store(tmp_path_factory.mktemp("fuzz"), customers=80)
    with Workspace.open(settings, create=False) as ws:
        key = apikeys.create_key(ws.ops, ["read", "write", "admin"], name="fuzz")["key"]
    url, stop = serve(create_app(settings, warm=False))
    schema = schemathesis.openapi.from_url(
        f"{url}/api/v1/openapi.json", headers={"Authorization": f"Bearer {key}"}
    )
    yield url, key, schema
    stop()


def test_no_request_the_schema_allows_or_not_is_a_server_error(api):
    url, key, schema = api
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    seen: dict[str, set[int]] = {}
    for operation in operations:
        if operation.label == "DELETE /api/v1/apikeys/{prefix}":
            continue  # revoking keys at random could revoke this test's own

        _fuzz(operation, url, key, seen)()
    assert len(seen) == len(operations) - 1


def _fuzz(operation, url: str, key: str, seen: dict):
    from hypothesis import HealthCheck, given, settings

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case):
        # a slow answer on a busy machine is not a failure; a hang still is
        response = case.call(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
        assert response.status_code < 500, (case.method, case.formatted_path, response.text)
        seen.setdefault(operation.label, set()).add(response.status_code)
        if response.status_code >= 400:
            assert set(response.json()["error"]) == SHAPE, response.text

    return check
