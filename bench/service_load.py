"""Load on `genre serve`: latency and throughput of POST /v1/recommend at 1, 8 and 32 concurrent clients.

Usage: .venv/bin/python bench/service_load.py [--duration 30] [--clients 1 8 32] [--tuned] [--tuned-duration 60]

Starts `python -m genre serve` on 127.0.0.1 (a free port, loopback only) over a temporary configs
folder holding configs/movies.toml (template reasons) and, with --tuned, the same config with the
`tuned-local` generator; a random API key; a rate limit high enough never to refuse the bench.
Each client is an httpx.AsyncClient task sending requests back to back, each for the next
MovieLens user id (1..943 in turn, so the score cache does not answer for them), k=10 (top-5 for
--tuned). Every section warms up first (the pipeline is preloaded), runs for --duration seconds
and stops; requests are bounded by --max-requests per section. Any answer but 200 is an error.
The bench client runs on the same machine as the server: on a 2-core machine they share the cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from genre.config import load_config, save_config, with_generator  # noqa: E402

USERS = 943


@dataclass
class Section:
    name: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    """Requests whose reasons were the template because the generator ran past its budget or failed."""
    seconds: float = 0.0

    def row(self) -> str:
        lat = np.array(self.latencies) * 1000 if self.latencies else np.array([np.nan])
        p50, p95, p99 = np.percentile(lat, [50, 95, 99])
        done = len(self.latencies)
        errors = sum(self.errors.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return (
            f"| {self.name} | {self.clients} | {done} | {done / self.seconds:.1f} | {p50:.0f} | {p95:.0f} | {p99:.0f} "
            f"| {errors}{f' ({detail})' if detail else ''} | {self.fallbacks} |"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def configs_folder(tuned: bool) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="genre-bench-configs-"))
    shutil.copy(ROOT / "configs" / "movies.toml", folder / "movies.toml")
    if tuned:
        config = with_generator(load_config(ROOT / "configs" / "movies.toml"), "tuned-local", source="bench")
        save_config(config.model_copy(update={"name": "movies-tuned"}), folder / "movies-tuned.toml")
    return folder


def start_server(folder: Path, port: int, key: str, args: argparse.Namespace) -> subprocess.Popen:
    store = Path(tempfile.mkdtemp(prefix="genre-bench-store-")) / "feedback.sqlite3"
    env = {**os.environ, "GENRE_API_KEYS": key, "GENRE_FEEDBACK_URL": f"sqlite:///{store}", "HF_HUB_OFFLINE": "1"}
    env.pop("GENRE_API_KEYS_FILE", None)
    command = [
        sys.executable, "-m", "genre", "serve", "--configs", str(folder), "--host", "127.0.0.1", "--port", str(port),
        "--threads", str(args.threads), "--rate", "100000", "--burst", "100000", "--log-level", "warning",
        "--preload", "movies", "--timeout", str(args.timeout), "--reason-timeout", str(args.reason_timeout),
    ]  # fmt: skip
    if args.tuned:
        command += ["--preload", "movies-tuned"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


async def wait_ready(base: str, server: subprocess.Popen, limit_s: float) -> None:
    import httpx

    deadline = time.monotonic() + limit_s
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise SystemExit(f"the server exited: {server.stderr.read() if server.stderr else ''}")
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"the server was not ready within {limit_s:.0f} s")


async def run_section(base: str, key: str, section: Section, config: str, k: int, duration: float, cap: int) -> None:
    import httpx

    counter = iter(range(10**9))
    stop_at = time.monotonic() + duration
    headers = {"Authorization": f"Bearer {key}"}

    async def client(http: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at and len(section.latencies) + sum(section.errors.values()) < cap:
            user = str(next(counter) % USERS + 1)
            started = time.perf_counter()
            try:
                answer = await http.post("/v1/recommend", json={"config": config, "user": user, "k": k})
            except httpx.HTTPError as exc:
                section.errors[type(exc).__name__] = section.errors.get(type(exc).__name__, 0) + 1
                continue
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                code = f"{answer.status_code} {answer.json().get('error', {}).get('code', '')}"
                section.errors[code] = section.errors.get(code, 0) + 1
                continue
            section.latencies.append(elapsed)
            if any(n.startswith("Template reasons are shown") for n in answer.json()["notices"]):
                section.fallbacks += 1

    limits = httpx.Limits(max_connections=section.clients, max_keepalive_connections=section.clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600, limits=limits) as http:
        started = time.monotonic()
        await asyncio.gather(*(client(http) for _ in range(section.clients)))
        section.seconds = time.monotonic() - started


async def main_async(args: argparse.Namespace) -> list[Section]:
    key = secrets.token_urlsafe(32)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    folder = configs_folder(args.tuned)
    server = start_server(folder, port, key, args)
    sections: list[Section] = []
    try:
        await wait_ready(base, server, args.startup_limit)
        await run_section(base, key, Section("warm-up", 2), "movies", 10, min(5.0, args.duration), 50)
        for clients in args.clients:
            section = Section("movies (template)", clients)
            await run_section(base, key, section, "movies", 10, args.duration, args.max_requests)
            sections.append(section)
            print(section.row(), flush=True)
        if args.tuned:
            section = Section("movies-tuned (tuned-local), top-5", 4)
            await run_section(base, key, section, "movies-tuned", 5, args.tuned_duration, args.max_requests)
            sections.append(section)
            print(section.row(), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(folder, ignore_errors=True)
    return sections


HEADER = (
    "| section | clients | requests | req/s | p50 ms | p95 ms | p99 ms | errors | template fallbacks |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per client count")
    parser.add_argument("--clients", type=int, nargs="*", default=[1, 8, 32], help="client counts (none: skip)")
    parser.add_argument("--tuned", action="store_true", help="also tuned-local top-5 at 4 clients")
    parser.add_argument("--tuned-duration", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=4, help="the server's pipeline threads")
    # Long enough that tuned-local's p95 is its own, not the budget's: a request over it counts as a fallback.
    parser.add_argument("--timeout", type=float, default=240.0, help="the server's request timeout")
    parser.add_argument("--reason-timeout", type=float, default=200.0, help="the server's reason budget")
    parser.add_argument("--max-requests", type=int, default=20_000, help="bound per section")
    parser.add_argument("--startup-limit", type=float, default=900.0, help="seconds to wait for /readyz")
    args = parser.parse_args()
    print(f"service load: {os.cpu_count()} CPU cores shared by the server and the bench client", flush=True)
    print(HEADER, flush=True)
    sections = asyncio.run(main_async(args))
    print("\n" + HEADER)
    for section in sections:
        print(section.row())


if __name__ == "__main__":
    main()
