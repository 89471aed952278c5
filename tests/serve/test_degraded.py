"""When parts fail: a slow, broken or missing generator gives template reasons with a notice; an unreachable
store makes /readyz 503 and refuses feedback; /metrics counts all of it; logs hold no free text."""

from __future__ import annotations

import io
import json
import logging
import time

from prometheus_client.parser import text_string_to_metric_families

from genre.serve.logs import JsonFormatter
from tests.serve.conftest import AUTH, make_client

UNREACHABLE = "postgresql+psycopg://genre:secret@127.0.0.1:1/genre"
"""A PostgreSQL URL on a port nothing listens on: every connection is refused at once."""


def samples(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def template_with_notice(trace: dict, fragment: str) -> None:
    assert trace["pending_reasons"] == []
    assert {i["reason"]["generator"] for i in trace["items"]} == {"template"}
    assert all(i["reason"]["verdict"] is not None for i in trace["items"])
    assert any(fragment in n for n in trace["notices"]), trace["notices"]


def test_a_slow_generator_gives_template_reasons_within_the_budget(client):
    response = client.post("/v1/recommend", json={"config": "tiny-slow", "profile": "coffee", "k": 2}, headers=AUTH)
    assert response.status_code == 200
    template_with_notice(response.json(), "did not finish within 1.0 s")
    found = samples(client)
    assert value(found, "genre_reason_fallbacks_total", config="tiny-slow", cause="timeout") == 2


def test_a_generator_that_fails_gives_template_reasons(client):
    response = client.post("/v1/recommend", json={"config": "tiny-down", "profile": "coffee"}, headers=AUTH)
    assert response.status_code == 200
    template_with_notice(response.json(), "the generator failed: slow-stub: the generator is down")
    assert value(samples(client), "genre_reason_fallbacks_total", config="tiny-down", cause="generator_error") == 3


def test_a_generator_that_cannot_load_gives_the_template_pipeline(client):
    response = client.post("/v1/recommend", json={"config": "tiny-missing", "profile": "coffee"}, headers=AUTH)
    assert response.status_code == 200
    template_with_notice(response.json(), "The reason generator is unavailable (slow-stub: the model file is missing")
    found = samples(client)
    assert value(found, "genre_reason_fallbacks_total", config="tiny-missing", cause="generator_unavailable") == 1


def test_a_late_run_can_be_explained_again(client):
    trace = client.post("/v1/recommend", json={"config": "tiny-slow", "profile": "coffee", "k": 1}, headers=AUTH).json()
    assert trace["items"][0]["reason"]["generator"] == "template"
    # the run keeps the late reason pending; a later explain waits for it again within its own budget
    again = client.post("/v1/explain", json={"run_id": trace["run_id"]}, headers=AUTH)
    assert again.status_code == 200 and [i["rank"] for i in again.json()["items"]] == [1]


def test_an_unreachable_store_fails_readyz_and_refuses_feedback(settings):
    with make_client(settings.model_copy(update={"feedback_url": UNREACHABLE})) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()["error"]
        assert body["code"] == "not_ready" and "feedback store" in body["message"]
        assert "secret" not in ready.text  # the URL's password is hidden
        sent = {"config": "tiny", "user": "camper", "item_id": "c", "kind": "like"}
        refused = client.post("/v1/feedback", json=sent, headers=AUTH)
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"
        # recommending still works; the run says it was not recorded
        trace = client.post("/v1/recommend", json={"config": "tiny", "user": "camper"}, headers=AUTH)
        assert trace.status_code == 200
        assert any("not recorded in the feedback store" in n for n in trace.json()["notices"])


def test_readyz_waits_for_preloaded_configs(settings):
    with make_client(settings.model_copy(update={"preload": ("tiny",)})) as client:
        service = client.app.state.service
        for _ in range(600):  # the build runs on a worker thread started with the app
            if not any("config tiny" in p for p in service.readiness()):
                break
            time.sleep(0.1)
        assert client.get("/readyz").json() == {"status": "ready", "preloaded": ["tiny"]}
        assert value(samples(client), "genre_model_info", config="tiny", model_version="base", device="cpu",
                     generator="template", genre_version="0.1.0") == 1  # fmt: skip


def test_metrics_count_requests_stages_reasons_and_errors(client):
    client.post("/v1/recommend", json={"config": "tiny", "user": "camper", "k": 2}, headers=AUTH)
    client.post("/v1/recommend", json={"config": "nope"}, headers=AUTH)
    client.get("/v1/configs")
    found = samples(client)
    assert value(found, "genre_http_request_duration_seconds_count", endpoint="/v1/recommend", method="POST",
                 status="2xx") == 1  # fmt: skip
    assert value(found, "genre_http_errors_total", endpoint="/v1/recommend", status="404", code="unknown_config") == 1
    assert value(found, "genre_http_errors_total", endpoint="/v1/configs", status="401", code="unauthorized") == 1
    stages = {
        dict(labels)["stage"] for (name, labels) in found if name == "genre_pipeline_stage_duration_seconds_count"
    }
    assert {"context", "candidates", "scorers", "fusion", "explain"} <= stages, stages
    reasons = sum(v for (name, labels), v in found.items() if name == "genre_reasons_total" and
                  dict(labels)["config"] == "tiny")  # fmt: skip
    assert reasons == 2
    assert value(found, "genre_model_info", config="tiny", model_version="base", device="cpu", generator="template",
                 genre_version="0.1.0") == 1  # fmt: skip


def test_rejected_reasons_are_counted_by_cause():
    from genre.core.types import ReasonOut, RejectedCandidate
    from genre.core.verdict import Verdict
    from genre.serve.metrics import ServiceMetrics
    from tests.serve.test_metrics_trace import trace_with

    metrics = ServiceMetrics()
    failed = ReasonOut(
        text="x", generator="grounded", fallback=False,
        verdict=Verdict(passed=False, errors=["invented_title", "length"], problems=["a", "b"]),
        rejected=[RejectedCandidate(text="y", problems=["z"])] * 2,
    )  # fmt: skip
    passed = ReasonOut(text="t", generator="template", fallback=True, verdict=Verdict(passed=True))
    metrics.observe_trace(trace_with([failed, passed]))
    found = {(s.name, tuple(sorted(s.labels.items()))): s.value
             for f in text_string_to_metric_families(metrics.render().decode()) for s in f.samples}  # fmt: skip
    assert value(found, "genre_reason_rejections_total", config="t", cause="invented_title") == 1
    assert value(found, "genre_reason_rejections_total", config="t", cause="length") == 1
    assert value(found, "genre_reasons_total", config="t", generator="grounded", outcome="rejected") == 1
    assert value(found, "genre_reasons_total", config="t", generator="template", outcome="verified") == 1
    assert value(found, "genre_reason_candidates_rejected_total", config="t", generator="grounded") == 2
    assert value(found, "genre_reason_fallbacks_total", config="t", cause="no_candidate_passed") == 1


def test_logs_are_json_lines_without_profiles_or_comments(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("genre.serve")
    logger.addHandler(handler)
    try:
        client.post(
            "/v1/recommend",
            json={"config": "tiny", "profile": "SECRET-PROFILE-TEXT coffee", "profile_name": "Sam"},
            headers={**AUTH, "X-Request-ID": "req-logged"},
        )
        client.post(
            "/v1/feedback",
            json={"config": "tiny", "profile_name": "Sam", "item_id": "f", "kind": "like", "comment": "SECRET-COMMENT"},
            headers=AUTH,
        )
        client.post("/v1/recommend", json={"config": "tiny", "profile": "SECRET-PROFILE-TEXT" * 2000}, headers=AUTH)
    finally:
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 3 and "SECRET" not in stream.getvalue()
    first = lines[0]
    assert first["request_id"] == "req-logged" and first["path"] == "/v1/recommend" and first["status"] == 200
    assert first["key"] and first["key"] not in AUTH["Authorization"]  # a digest prefix, not the key
    assert lines[2]["code"] == "bad_input"


def test_two_apps_in_one_process_keep_their_own_metrics(settings):
    with make_client(settings) as first, make_client(settings) as second:
        first.post("/v1/recommend", json={"config": "nope"}, headers=AUTH)
        assert value(samples(first), "genre_http_errors_total", endpoint="/v1/recommend", status="404",
                     code="unknown_config") == 1  # fmt: skip
        assert value(samples(second), "genre_http_errors_total", endpoint="/v1/recommend", status="404",
                     code="unknown_config") == 0  # fmt: skip
