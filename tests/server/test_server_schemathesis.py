"""Schemathesis against the published video spec: no server errors, answers match the spec.

Requests are generated from `tests/fixtures/openapi-video.yaml` (both valid and invalid ones)
and sent over real HTTP to a local server. Two checks apply: no 5xx, and every answer whose
status the spec documents matches the schema documented for it. The places where the server
answers differently on purpose are listed in docs/server.md ("Where it differs"); statuses the
spec leaves out (a 404 from complete, for example) are among them, which is why status-code and
content-type conformance are not checked here.

The number of examples per operation is bounded (`EXAMPLES`), so the whole file stays within
about a minute on a small machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from _server_helpers import offline
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from venice_video._catalog import bundled_catalog
from venice_video.server import ManualClock, ServerConfig, ServerThread

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "openapi-video.yaml"
#: Generated requests per operation (half valid for the spec, half not).
EXAMPLES = 60
SCHEMA = schemathesis.openapi.from_path(SPEC)
OPERATIONS = sorted(
    (op.path, op.method.upper()) for op in (r.ok() for r in SCHEMA.get_all_operations())
)
CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.response_schema_conformance]
MODELS = sorted(m.id for m in bundled_catalog())


def _with_real_model(case: Any, model: str) -> Any:
    # The spec types `model` as any string; a real id lets valid requests get past the model
    # lookup to the model's own constraints, prices and jobs.
    if isinstance(case.body, dict) and "model" in case.body:
        case.body = {**case.body, "model": model}
    return case


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    # A still clock and one job at a time: the few valid jobs generated cost one render.
    config = ServerConfig(data_dir=tmp_path_factory.mktemp("spec"), default_capacity=1)
    with ServerThread(config, clock=ManualClock()) as server:
        offline(server)
        yield server


def test_every_operation_of_the_spec_is_exercised() -> None:
    assert OPERATIONS == [
        ("/audio/transcriptions", "POST"),
        ("/models", "GET"),
        ("/video/complete", "POST"),
        ("/video/queue", "POST"),
        ("/video/quote", "POST"),
        ("/video/retrieve", "POST"),
        ("/video/transcriptions", "POST"),
    ]


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_the_server_answers_as_the_spec_says(local: ServerThread, path: str, method: str) -> None:
    operation = SCHEMA[path][method]
    positive = operation.as_strategy(GenerationMode.POSITIVE)
    cases = st.one_of(
        positive,
        st.builds(_with_real_model, positive, st.sampled_from(MODELS)),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    seen: list[int] = []
    started = time.monotonic()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def run(case: Any) -> None:
        # Every request goes to the local server, each from an account of its own.
        key = f"spec-{len(seen)}-{time.monotonic_ns()}"
        response = case.call(
            base_url=local.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
        )
        seen.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    run()
    elapsed = time.monotonic() - started
    print(f"{method} {path}: {len(seen)} requests in {elapsed:.1f} s, statuses {sorted(set(seen))}")
    assert len(seen) >= EXAMPLES // 2
    assert all(status < 500 for status in seen)
