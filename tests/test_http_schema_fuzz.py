"""Schemathesis over the OpenAPI document: every operation, with data made from its schema by
hypothesis, against a real server: no 5xx, and every documented response within its schema.

The server has a database of its own (the small demo loaded afresh), so what a fuzzed write
does (a report, a feature, a plan job) cannot change what other tests see."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from gis import db, store, users

from tests.servers import serve


@pytest.fixture(scope="module")
def fuzz_server(small_demo):
    with db.scratch_database("pianqu_fuzz") as url:
        db.upgrade(url)
        eng = db.engine(url)
        with eng.begin() as tx:
            store.bulk_load(tx, small_demo.layers)
        with eng.begin() as conn:
            _, key = users.add(conn, "fuzz-planner", "planner", None)
        eng.dispose()
        with serve(url) as base:
            yield base, key


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    base, _ = fuzz_server
    return schemathesis.openapi.from_url(f"{base}/openapi.json")


def _operations():
    """Every operation of the document (its paths are read from the app, without a server)."""
    from api.http.app import create_app
    spec = create_app(engine=db.engine("postgresql+psycopg://unused@127.0.0.1/unused")).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


# One test per operation, so a failure names it. (schemathesis.pytest.from_fixture does this
# too, but breaks on pytest 9's nodes; its Python API under one test per operation does not.)
@pytest.mark.parametrize("method, path", _operations())
def test_no_server_error_and_answers_as_documented(api_schema, fuzz_server, method, path):
    base, key = fuzz_server
    op = api_schema[path][method].ok() if hasattr(api_schema[path][method], "ok") else api_schema[path][method]

    calls = []

    @given(case=op.as_strategy())
    @settings(max_examples=12, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        calls.append(case.method)
        case.call_and_validate(base_url=base, headers={"Authorization": f"Bearer {key}"},
                               checks=[not_a_server_error, response_schema_conformance])
    check()
    assert calls, f"no request was made for {method} {path}"
