"""Every endpoint through FastAPI's TestClient, on the tiny catalog: auth, limits, answers and JSON errors."""

from __future__ import annotations

import pytest

from genre.feedback.store import FeedbackStore
from tests.serve.conftest import AUTH, KEY, OTHER_KEY, make_client

OTHER = {"Authorization": f"Bearer {OTHER_KEY}"}


def error_of(response) -> tuple[str, str]:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    assert "Traceback" not in response.text
    return body["error"]["code"], body["error"]["message"]


# ---- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "missing API key"),
        ({"Authorization": "Bearer wrong-key-0123456789"}, "invalid API key"),
        ({"Authorization": f"Basic {KEY}"}, "invalid API key"),
    ],
)
def test_v1_routes_need_a_valid_bearer_key(client, headers, fragment):
    response = client.get("/v1/configs", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    code, message = error_of(response)
    assert code == "unauthorized" and fragment in message


def test_probes_and_metrics_stay_open_and_both_keys_work(client):
    for path in ("/healthz", "/metrics", "/docs", "/openapi.json"):
        assert client.get(path).status_code == 200, path
    assert client.get("/v1/configs", headers=AUTH).status_code == 200
    assert client.get("/v1/configs", headers=OTHER).status_code == 200


def test_rate_limit_per_key_answers_429_with_retry_after(settings):
    with make_client(settings.model_copy(update={"burst": 2, "rate_per_s": 0.01})) as client:
        assert [client.get("/v1/configs", headers=AUTH).status_code for _ in range(2)] == [200, 200]
        limited = client.get("/v1/configs", headers=AUTH)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        code, message = error_of(limited)
        assert code == "rate_limited" and "retry after" in message
        assert client.get("/v1/configs", headers=OTHER).status_code == 200  # another key has its own bucket
        assert client.get("/healthz").status_code == 200  # probes are not limited


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "not ok\tid"})
    assert made.headers["x-request-id"] != "not ok\tid" and len(made.headers["x-request-id"]) == 32


def test_cors_is_closed_by_default_and_open_to_listed_origins(settings):
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    with make_client(settings) as client:
        assert "access-control-allow-origin" not in client.options("/v1/recommend", headers=preflight).headers
        assert (
            "access-control-allow-origin"
            not in client.get("/healthz", headers={"Origin": "https://app.example"}).headers
        )
    with make_client(settings.model_copy(update={"cors_origins": ("https://app.example",)})) as client:
        answer = client.options("/v1/recommend", headers=preflight)
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == "https://app.example"
        other = client.options("/v1/recommend", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


# ---- endpoints ------------------------------------------------------------------------------


def test_configs_lists_every_toml_with_its_generator(client):
    body = client.get("/v1/configs", headers=AUTH).json()
    by_name = {c["name"]: c for c in body["configs"]}
    assert set(by_name) == {"tiny", "tiny-gen", "tiny-slow", "tiny-down", "tiny-missing"}
    assert by_name["tiny"]["generator"] == "template" and by_name["tiny"]["k"] == 3
    assert body["max_k"] == 100


def test_recommend_returns_the_run_trace_for_each_profile_source(client):
    by_profile = client.post("/v1/recommend", json={"config": "tiny", "user": "camper", "k": 2}, headers=AUTH)
    assert by_profile.status_code == 200
    trace = by_profile.json()
    assert trace["config_name"] == "tiny" and len(trace["items"]) == 2
    assert {h["item_id"] for h in trace["history"]} == {"a", "b"}
    assert all(i["item_id"] not in {"a", "b"} for i in trace["items"])
    assert all(i["reason"]["verdict"] is not None for i in trace["items"])
    assert trace["pending_reasons"] == [] and trace["timings"]
    coffee = client.post(
        "/v1/recommend", json={"config": "tiny", "profile": "coffee kettle grinder", "k": 3}, headers=AUTH
    ).json()
    assert coffee["items"][0]["categories"] == ["Coffee"]
    by_titles = client.post(
        "/v1/recommend", json={"config": "tiny", "history": ["Chef Knife"], "item_ids": ["e"]}, headers=AUTH
    ).json()
    assert [h["item_id"] for h in by_titles["history"]] == ["e", "d"] and len(by_titles["items"]) == 3
    filtered = client.post(
        "/v1/recommend", json={"config": "tiny", "categories": ["Kitchen"], "k": 2}, headers=AUTH
    ).json()
    assert {i["item_id"] for i in filtered["items"]} == {"d", "e"}


def test_recommend_with_a_generator_and_a_style(client):
    trace = client.post("/v1/recommend", json={"config": "tiny-gen", "profile": "coffee"}, headers=AUTH).json()
    assert {i["reason"]["generator"] for i in trace["items"]} == {"slow-stub"}
    styled = client.post(
        "/v1/recommend", json={"config": "tiny", "user": "camper", "style": "bullets"}, headers=AUTH
    ).json()
    assert all(i["reason"]["text"].lstrip().startswith("- ") for i in styled["items"])
    bad = client.post("/v1/recommend", json={"config": "tiny", "style": "haiku"}, headers=AUTH)
    assert bad.status_code == 400 and "one-line" in error_of(bad)[1]


def test_explain_writes_deferred_reasons_of_a_kept_run(client):
    trace = client.post(
        "/v1/recommend", json={"config": "tiny-gen", "profile": "coffee", "reasons": False}, headers=AUTH
    ).json()
    assert trace["pending_reasons"] == [1, 2, 3]
    assert {i["reason"]["generator"] for i in trace["items"]} == {"template"}
    first = trace["items"][0]["item_id"]
    answer = client.post("/v1/explain", json={"run_id": trace["run_id"], "item_ids": [first]}, headers=AUTH)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert [i["item_id"] for i in items] == [first] and items[0]["reason"]["generator"] == "slow-stub"
    rest = client.post("/v1/explain", json={"run_id": trace["run_id"]}, headers=AUTH).json()["items"]
    assert [i["rank"] for i in rest] == [2, 3] and {i["reason"]["generator"] for i in rest} == {"slow-stub"}
    # another key cannot read the run; an item not in it is named
    assert client.post("/v1/explain", json={"run_id": trace["run_id"]}, headers=OTHER).status_code == 404
    missing = client.post("/v1/explain", json={"run_id": trace["run_id"], "item_ids": ["zz"]}, headers=AUTH)
    assert missing.status_code == 404 and error_of(missing)[0] == "unknown_item" and "'zz'" in error_of(missing)[1]
    gone = client.post("/v1/explain", json={"run_id": "nope"}, headers=AUTH)
    assert gone.status_code == 404 and error_of(gone)[0] == "unknown_run"


def test_feedback_is_stored_under_the_user_and_its_run(client, store_url):
    trace = client.post("/v1/recommend", json={"config": "tiny", "user": "camper"}, headers=AUTH).json()
    item = trace["items"][0]["item_id"]
    sent = {"config": "tiny", "user": "camper", "item_id": item, "kind": "like", "run_id": trace["run_id"]}
    stored = client.post("/v1/feedback", json=sent, headers=AUTH)
    with FeedbackStore(store_url) as store:
        camper, sam = store.user_key("tiny:profile:camper"), store.user_key("tiny:named:Sam")
    # the store keeps only the pseudonym, and the answer shows what was stored
    assert stored.status_code == 201 and stored.json()["event"]["user"] == camper != "tiny:profile:camper"
    rating = client.post(
        "/v1/feedback",
        json={"config": "tiny", "profile_name": "Sam", "item_id": "f", "kind": "rating", "value": 5, "comment": "ok"},
        headers=AUTH,
    )
    assert rating.status_code == 201
    with FeedbackStore(store_url) as store:
        events = store.events()
    assert [(e.user, e.item_id, e.kind, e.run_id) for e in events] == [
        (camper, item, "like", trace["run_id"]),
        (sam, "f", "rating", None),
    ]
    # the run's feedback shapes the next run that asks for it
    again = client.post(
        "/v1/recommend", json={"config": "tiny", "user": "camper", "use_feedback": True}, headers=AUTH
    ).json()
    assert item in again["feedback"]["liked"]


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"config": "tiny", "user": "camper", "item_id": "zz", "kind": "like"}, 400, "bad_feedback", "'zz'"),
        ({"config": "tiny", "user": "camper", "item_id": "a", "kind": "love"}, 400, "bad_feedback", "valid kinds"),
        ({"config": "tiny", "user": "camper", "item_id": "a", "kind": "rating", "value": 9}, 400, "bad_feedback", "1"),
        ({"config": "tiny", "user": "nobody", "item_id": "a", "kind": "like"}, 404, "unknown_user", "camper"),
        ({"config": "tiny", "item_id": "a", "kind": "like"}, 422, "invalid_request", "exactly one of user"),
    ],
)
def test_bad_feedback_is_refused_naming_the_problem(client, body, status, code, fragment):
    response = client.post("/v1/feedback", json=body, headers=AUTH)
    assert response.status_code == status
    got_code, message = error_of(response)
    assert got_code == code and fragment in message


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json()["status"] == "ready"


# ---- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "fragment"),
    [
        ({"config": "nope"}, 404, "unknown_config", "valid configs: tiny-down, tiny-gen"),
        ({"config": "tiny", "k": 0}, 422, "k_out_of_range", "k must be 1 to 8"),
        ({"config": "tiny", "k": 9}, 422, "k_out_of_range", "tiny catalog has 8 items"),
        ({"config": "tiny", "k": "many"}, 422, "invalid_request", "k:"),
        ({"config": "tiny", "user": "nobody"}, 404, "unknown_user", "example profiles: camper"),
        ({"config": "tiny", "history": ["No Such Thing"]}, 400, "bad_input", "No Such Thing"),
        ({"config": "tiny", "item_ids": ["zz"]}, 400, "bad_input", "'zz'"),
        ({"config": "tiny", "profile": "x" * 25_000}, 400, "bad_input", "the limit is 20,000"),
        ({"config": "tiny", "colour": "red"}, 422, "invalid_request", "colour: unknown field"),
        ({"config": "tiny", "user": "camper", "history": ["Chef Knife"]}, 422, "invalid_request", "not both"),
        ({"config": "tiny", "price_min": 50, "price_max": 10}, 400, "bad_input", "price_min must not exceed"),
        ({}, 422, "invalid_request", "config: Field required"),
    ],
)
def test_bad_recommend_requests_get_a_clear_4xx(client, body, status, code, fragment):
    response = client.post("/v1/recommend", json=body, headers=AUTH)
    assert response.status_code == status, response.text
    got_code, message = error_of(response)
    assert got_code == code and fragment in message


def test_malformed_json_and_oversized_bodies(client):
    malformed = client.post(
        "/v1/recommend", content=b'{"config": "tiny",', headers={**AUTH, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400 and error_of(malformed)[0] == "malformed_json"
    huge = client.post("/v1/recommend", json={"config": "tiny", "profile": "x" * 2_000_000}, headers=AUTH)
    assert huge.status_code == 413
    code, message = error_of(huge)
    assert code == "body_too_large" and "65,536" in message
    # without a Content-Length the body is counted as it streams
    chunks = iter([b'{"config": "tiny", "profile": "', b"x" * 70_000, b'"}'])
    streamed = client.post("/v1/recommend", content=chunks, headers={**AUTH, "Content-Type": "application/json"})
    assert streamed.status_code == 413 and error_of(streamed)[0] == "body_too_large"


def test_unknown_routes_and_methods_answer_json(client):
    missing = client.get("/v1/nothing", headers=AUTH)
    assert missing.status_code == 404 and error_of(missing)[0] == "not_found"
    wrong = client.get("/v1/recommend", headers=AUTH)
    assert wrong.status_code == 405 and error_of(wrong)[0] == "method_not_allowed"


def test_an_unexpected_error_is_a_500_with_the_request_id_and_no_traceback(client):
    def broken(*args):
        raise RuntimeError("secret internals")

    client.app.state.service.recommend = broken
    response = client.post("/v1/recommend", json={"config": "tiny"}, headers={**AUTH, "X-Request-ID": "req-500"})
    assert response.status_code == 500
    code, message = error_of(response)
    assert code == "internal_error" and "req-500" in message and "secret internals" not in response.text


def test_ranking_past_the_request_timeout_is_a_504(settings):
    import time

    with make_client(settings.model_copy(update={"request_timeout_s": 0.2})) as client:
        service = client.app.state.service
        service.recommend = lambda *args: time.sleep(1.0)
        response = client.post("/v1/recommend", json={"config": "tiny"}, headers=AUTH)
        assert response.status_code == 504
        code, message = error_of(response)
        assert code == "timeout" and "0.2 s timeout" in message


def test_a_run_without_pending_reasons_is_not_kept(client):
    trace = client.post("/v1/recommend", json={"config": "tiny", "profile": "coffee"}, headers=AUTH).json()
    gone = client.post("/v1/explain", json={"run_id": trace["run_id"]}, headers=AUTH)
    assert gone.status_code == 404 and "still pending" in error_of(gone)[1]


def test_the_service_builds_with_the_pool_it_is_given(settings):
    # An empty pool has length 0; the service once took it for "no pool" and built with the real embedder.
    with make_client(settings) as c:
        pool = c.app.state.service.pool
        assert len(pool) == 0
        trace = c.post("/v1/recommend", json={"config": "tiny", "user": "camper"}, headers=AUTH)
        assert trace.status_code == 200 and len(pool) == 1
        built = pool.peek(c.app.state.service.configs["tiny"])
        assert built is not None and built.env.embedder.name == "hash-test"
