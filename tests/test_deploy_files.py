"""The Dockerfile, compose.yaml, .dockerignore and deploy/ agree with the tree and with each other.

No Docker engine runs in CI, so the image is never built here: these checks catch what would break a
build or a deployment without one (a copied path that is gone, a CLI command or option that does not
exist, pins that drifted from the Makefile, a compose service pointing at the wrong host or file).
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from genre.cli import build_parser
from genre.config import load_config
from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        pending += " " + stripped.removesuffix("\\").strip()
        if not stripped.endswith("\\"):
            word, _, rest = pending.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
            pending = ""
    return out


def of(kind: str) -> list[str]:
    return [args for word, args in instructions() if word == kind]


def dockerignore() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [x.strip() for x in lines if x.strip() and not x.startswith("#")]


def ignored(path: str) -> bool:
    parts = Path(path).parts
    for pattern in dockerignore():
        pattern = pattern.removeprefix("**/")
        if fnmatch.fnmatch(path, pattern) or any(fnmatch.fnmatch(p, pattern) for p in parts):
            return True
    return False


def makefile_var(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile defines no {name}"
    return match.group(1).strip()


def cmd() -> list[str]:
    (line,) = of("CMD")
    return json.loads(line)


def serve_exists() -> bool:
    return (ROOT / "genre" / "cli" / "serve.py").is_file()


# ---- Dockerfile ---------------------------------------------------------------------------------------------


def test_cpu_python_311_slim_base_and_a_non_root_user():
    assert of("FROM") == ["python:3.11-slim"]
    users = of("USER")
    assert users and users[-1] not in ("root", "0")
    # The user is created before it is switched to.
    assert re.search(rf"useradd .*\b{users[-1]}\b", " ".join(of("RUN")))


def test_every_copied_path_exists_and_is_in_the_build_context():
    for line in of("COPY"):
        *sources, _dest = shlex.split(line)
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path in the repository"
            assert not ignored(source.rstrip("/")), f"COPY {source}: .dockerignore leaves it out of the context"


def test_secrets_caches_and_the_tree_outside_the_package_stay_out_of_the_context():
    for path in (".venv", ".git", "deploy/genre.env", "deploy/db.env", "secrets", "x/vectors.npz", "m.safetensors"):
        assert ignored(path), f"{path} would be sent to the Docker daemon"
    for path in ("genre/core/paths.py", "configs/products.toml", "sample_data/products/items.jsonl", "README.md"):
        assert not ignored(path), f"{path} is needed in the image"


def test_pins_match_the_makefile():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f"ARG TORCH={makefile_var('TORCH')}" in dockerfile
    for pin in makefile_var("NO_DEPS").split():
        assert pin in dockerfile, f"{pin} (Makefile NO_DEPS) is not what the image installs"


def test_installed_extras_exist_and_serve_holds_faiss():
    extras = re.search(r"pip install -e '\.\[([a-z,]+)\]'", " ".join(of("RUN")))
    assert extras, "the image installs GENRE editable with its extras"
    optional = PYPROJECT["project"]["optional-dependencies"]
    for extra in extras.group(1).split(","):
        assert extra in optional, f"extra {extra!r} is not in pyproject.toml"
    assert "serve" in extras.group(1) and any(d.startswith("faiss-cpu") for d in optional["serve"])


def test_prepare_at_build_uses_real_options_and_no_movielens():
    runs = [r for r in of("RUN") if "genre prepare" in r]
    assert len(runs) == 1
    argv = shlex.split(runs[0].split("genre ", 1)[1])
    args = build_parser().parse_args(argv)
    assert args.command == "prepare" and args.config
    for path in args.config:
        config = load_config(ROOT / path)
        # Its licence forbids redistributing anything derived from MovieLens: no such state in the image.
        assert config.data.loader != "movielens-100k", f"{path} would bake MovieLens-derived state into the image"


def test_cmd_serves_on_the_exposed_port_with_a_health_check():
    command = cmd()
    assert command[:2] == ["genre", "serve"]
    port = command[command.index("--port") + 1]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert of("EXPOSE") == [port]
    (check,) = of("HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in check


def test_cmd_is_a_real_cli_command():
    if not serve_exists():
        pytest.skip("genre serve is not in this tree yet (issue 16's service part)")
    args = build_parser().parse_args(cmd()[1:])
    assert args.command == "serve" and args.host == "0.0.0.0" and args.port == 8000


def test_cache_dir_of_the_image_is_the_one_compose_keeps():
    env = re.search(r"GENRE_CACHE_DIR=(\S+)", " ".join(of("ENV")))
    assert env
    compose = compose_file()
    volumes = [v.split(":") for v in compose["services"]["app"]["volumes"]]
    assert any(target == env.group(1) for _, target, *_ in volumes)


# ---- compose.yaml and deploy/ -------------------------------------------------------------------------------


def compose_file() -> dict:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def env_example(path: str) -> dict[str, str]:
    example = ROOT / (path + ".example")
    assert example.is_file(), f"{path} has no {path}.example to copy"
    pairs = [line.split("=", 1) for line in example.read_text().splitlines() if line and not line.startswith("#")]
    return {k: v for k, v in pairs}


def test_compose_runs_postgres_15_with_a_health_check_the_app_waits_for():
    services = compose_file()["services"]
    db, app = services["db"], services["app"]
    assert db["image"] == "postgres:15"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"
    assert app["build"] == "."


def test_the_store_url_points_at_the_db_service_and_its_database():
    services = compose_file()["services"]
    db, app = services["db"], services["app"]
    (app_env,) = app["env_file"]
    env = env_example(app_env)
    url = re.fullmatch(r"postgresql\+psycopg://([^:]+):([^@]+)@([^:/]+):(\d+)/(\w+)", env["GENRE_FEEDBACK_URL"])
    assert url, env["GENRE_FEEDBACK_URL"]
    user, password, host, port, database = url.groups()
    assert host == "db" and port == "5432"
    assert (user, database) == (db["environment"]["POSTGRES_USER"], db["environment"]["POSTGRES_DB"])
    (db_env,) = db["env_file"]
    assert env_example(db_env)["POSTGRES_PASSWORD"] == password
    assert {"GENRE_USER_ID_KEY", "GENRE_API_KEYS"} <= set(env)
    # Examples only: every secret is a placeholder to change.
    assert all("CHANGE-ME" in env[k] for k in ("GENRE_USER_ID_KEY", "GENRE_API_KEYS")) and "CHANGE-ME" in password


def test_the_app_is_published_on_loopback_and_trusts_forwarded_headers_from_the_proxy_only():
    compose = compose_file()
    app, proxy = compose["services"]["app"], compose["services"]["proxy"]
    exposed = of("EXPOSE")[0]
    assert app["ports"] == [f"127.0.0.1:{exposed}:{exposed}"]
    trusted = app["environment"]["FORWARDED_ALLOW_IPS"]
    assert trusted != "*" and trusted == proxy["networks"]["internal"]["ipv4_address"]
    subnet = ipaddress.ip_network(compose["networks"]["internal"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(trusted) in subnet
    assert proxy["profiles"] == ["proxy"]
    mounted = [v.split(":")[0] for v in proxy["volumes"] if v.startswith("./")]
    for source in mounted:
        assert (ROOT / source).is_file(), f"the proxy mounts {source}, which does not exist"
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert f"reverse_proxy app:{exposed}" in caddyfile


def test_the_deploy_doc_names_every_setting_the_files_use():
    doc = (ROOT / "docs" / "deploy.md").read_text()
    for name in ("GENRE_FEEDBACK_URL", "GENRE_USER_ID_KEY", "GENRE_API_KEYS", "GENRE_API_KEYS_FILE",
                 "FORWARDED_ALLOW_IPS", "--proxy-headers", "--forwarded-allow-ips", "not built in CI"):  # fmt: skip
        assert name in doc or name.lower() in doc.lower(), name
