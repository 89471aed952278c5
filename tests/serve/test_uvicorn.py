"""``genre serve`` as a real uvicorn process on a free loopback port, spoken to over HTTP with httpx;
and the command's refusals (no keys, no serve extra, bad folder), each one line and exit 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import tomli_w

from genre.cli import main
from tests.conftest import ROOT, tiny_config_dict

KEY = "uvicorn-test-key-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def popularity_configs(tmp_path, tiny_catalog_file) -> Path:
    """One config that needs no embedder for a request without history or text: popularity alone."""
    folder = tmp_path / "configs"
    folder.mkdir()
    cfg = tiny_config_dict(
        tiny_catalog_file,
        name="pop",
        intent={"component": "none"},
        scorers={"popularity": {"component": "popularity", "config": {"count_label": "reviews"}}},
        fusion={"component": "weighted", "config": {"weights": {"popularity": 1.0}}},
    )
    (folder / "pop.toml").write_text(tomli_w.dumps(cfg))
    return folder


def test_a_real_uvicorn_process_over_http(popularity_configs, tmp_path, cache):
    port = free_port()
    env = {
        **os.environ, "GENRE_API_KEYS": KEY, "GENRE_FEEDBACK_URL": f"sqlite:///{tmp_path / 'fb.sqlite3'}",
        "GENRE_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
    }  # fmt: skip
    env.pop("GENRE_API_KEYS_FILE", None)
    command = [sys.executable, "-m", "genre", "serve", "--configs", str(popularity_configs), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--preload", "pop"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            for _ in range(1200):
                if server.poll() is not None:
                    break
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert http.get("/readyz").json() == {"status": "ready", "preloaded": ["pop"]}
            denied = http.post("/v1/recommend", json={"config": "pop"})
            assert denied.status_code == 401 and denied.json()["error"]["code"] == "unauthorized"
            auth = {"Authorization": f"Bearer {KEY}", "X-Request-ID": "over-http-1"}
            answer = http.post("/v1/recommend", json={"config": "pop", "k": 2}, headers=auth)
            assert answer.status_code == 200 and answer.headers["x-request-id"] == "over-http-1"
            assert [i["item_id"] for i in answer.json()["items"]] == ["d", "e"]  # most reviewed first
            bad = http.post("/v1/recommend", content=b"{", headers={**auth, "Content-Type": "application/json"})
            assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
            assert 'genre_http_errors_total{code="malformed_json"' in http.get("/metrics").text
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            _, err = server.communicate()
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # every log line is JSON
    access = [line for line in lines if line["logger"] == "genre.serve.access" and line["request_id"] == "over-http-1"]
    assert access and access[0]["status"] == 200 and access[0]["path"] == "/v1/recommend"
    assert KEY not in err


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_serve_refuses_to_start_without_keys(popularity_configs, monkeypatch, capsys):
    monkeypatch.delenv("GENRE_API_KEYS", raising=False)
    monkeypatch.delenv("GENRE_API_KEYS_FILE", raising=False)
    code, err = run_cli(["serve", "--configs", str(popularity_configs)], capsys)
    assert code == 2 and "no API keys configured" in err and "--insecure-no-auth" in err
    assert "Traceback" not in err


def test_serve_names_the_missing_extra(popularity_configs, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    code, err = run_cli(["serve", "--configs", str(popularity_configs), "--insecure-no-auth"], capsys)
    assert code == 2 and "genre serve needs the serve extra (fastapi is not installed)" in err


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--configs", "no-such-folder"], "configs folder no-such-folder does not exist"),
        (["--preload", "nope"], "cannot preload nope"),
        (["--port", "0"], "--port must be 1 to 65535"),
        (["--rate", "0"], "invalid serve option rate_per_s"),
    ],
)
def test_serve_refuses_bad_options_in_one_line(popularity_configs, monkeypatch, capsys, args, fragment):
    monkeypatch.setenv("GENRE_API_KEYS", KEY)
    monkeypatch.chdir(popularity_configs.parent)
    code, err = run_cli(["serve", "--configs", "configs", *args], capsys)
    assert code == 2 and fragment in err, err


def test_each_worker_process_reads_the_settings_from_the_environment(popularity_configs, monkeypatch):
    from genre.cli.serve import SETTINGS_ENV, app_from_env
    from genre.serve import ServiceSettings
    from genre.serve.settings import hash_key

    settings = ServiceSettings(configs_dir=popularity_configs, api_key_hashes=(hash_key(KEY),), burst=3)
    monkeypatch.setenv(SETTINGS_ENV, settings.model_dump_json())
    app = app_from_env()
    assert app.state.service.settings == settings
    assert KEY not in os.environ[SETTINGS_ENV]  # digests only
