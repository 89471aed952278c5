"""The service on the real movies config (MovieLens-100K, the real embedder, template reasons)."""

from __future__ import annotations

import pytest

from genre.serve import ServiceSettings, create_app
from genre.serve.settings import hash_key
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

KEY = "movies-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_movies_over_the_service(tmp_path):
    from fastapi.testclient import TestClient

    settings = ServiceSettings(
        configs_dir=ROOT / "configs", api_key_hashes=(hash_key(KEY),), preload=("movies",),
        feedback_url=f"sqlite:///{tmp_path / 'feedback.sqlite3'}", request_timeout_s=600,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        trace = client.post("/v1/recommend", json={"config": "movies", "user": "1", "k": 5}, headers=AUTH)
        assert trace.status_code == 200, trace.text
        body = trace.json()
        assert body["config_name"] == "movies" and len(body["items"]) == 5 and body["pending_reasons"] == []
        assert len(body["history"]) == 200  # user 1 rated 272 films; the context keeps its max_history = 200
        for item in body["items"]:
            assert item["reason"]["generator"] == "template" and item["reason"]["verdict"]["passed"], item["reason"]
        styled = client.post(
            "/v1/recommend", json={"config": "movies", "user": "1", "k": 3, "style": "compare"}, headers=AUTH
        ).json()
        assert all(i["reason"]["verdict"]["passed"] for i in styled["items"])
        unknown = client.post("/v1/recommend", json={"config": "movies", "user": "100000"}, headers=AUTH)
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_user"
        too_many = client.post("/v1/recommend", json={"config": "movies", "k": 101}, headers=AUTH)
        assert too_many.status_code == 422 and "1 to 100" in too_many.json()["error"]["message"]
        liked = {"config": "movies", "user": "1", "item_id": body["items"][0]["item_id"], "kind": "like",
                 "run_id": body["run_id"]}  # fmt: skip
        assert client.post("/v1/feedback", json=liked, headers=AUTH).status_code == 201
        assert client.get("/readyz").json()["status"] == "ready"
        metrics = client.get("/metrics").text
        assert 'genre_model_info{config="movies"' in metrics
        assert 'genre_reasons_total{config="movies",generator="template",outcome="verified"} 8.0' in metrics
