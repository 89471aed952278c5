"""Explorer speed in a real browser: cold start to an interactive home page, and warm reruns.

Usage: .venv/bin/python bench/explorer_latency.py [--starts 3] [--moves 10] [--write]

* cold start: from launching `streamlit run app.py` until the home page has finished its first
  run and shows "Ready" (models loaded, pipeline built from the prepared cache);
* warm slider rerun: on Tune (configs/movies-weighted.toml), one weight slider step, from the
  key press until the page is idle again with the new ranking (reasons are not regenerated:
  the preview shows template reasons, skips attribution, and reuses every unchanged component
  and the scores cached for this user);
* warm Recommend rerun: after a run with SmolLM2 reasons, picking another item to inspect, from
  the click until the page is idle (the trace is kept, nothing is recomputed).

Needs Debian chromium at /usr/bin/chromium and `make setup` done (models prepared).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_http(url: str) -> None:
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                return
        except OSError:
            time.sleep(0.05)


WATCH = """() => {
    const app = document.querySelector('[data-testid=stApp]');
    window.__states = [];
    if (!window.__watching) {
        new MutationObserver(() => window.__states.push(app.getAttribute('data-test-script-state')))
            .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
        window.__watching = true;
    }
}"""
RERUN_DONE = "() => window.__states.includes('running') && window.__states.at(-1) === 'notRunning'"


def _rerun_ms(page: Any, action: Callable[[], None]) -> float:
    """From the action until the rerun it triggers has finished.

    A MutationObserver records every script-state change, so a rerun that starts and ends between
    two polls is still seen (polling for the running state alone would miss fast reruns and wait
    out its timeout).
    """
    page.evaluate(WATCH)
    start = time.perf_counter()
    action()
    page.wait_for_function(RERUN_DONE, timeout=600_000, polling=10)
    return (time.perf_counter() - start) * 1000


def _choose(page: Any, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).first.click()
    page.wait_for_selector(IDLE)


def _warm(page: Any, url: str, moves: int, generator: str) -> tuple[list[float], list[float]]:
    """Slider steps on Tune, then item inspection on Recommend after a run with ``generator`` (ms each)."""
    page.goto(f"{url}/Tune")
    page.wait_for_selector(IDLE)
    _choose(page, "Start from config", "movies-weighted")
    page.get_by_role("slider").first.focus()
    _rerun_ms(page, lambda: page.keyboard.press("ArrowRight"))  # builds the weighted pipeline once
    # Every step is a weight the page has not seen yet: a new pipeline (reusing every unchanged
    # component and the cached scores) is built and run each time.
    slider = [_rerun_ms(page, lambda: page.keyboard.press("ArrowRight")) for _ in range(moves)]
    page.goto(f"{url}/Recommend")
    page.wait_for_selector(IDLE)
    _choose(page, "Reason generator", generator)
    _rerun_ms(page, page.get_by_role("button", name="Recommend", exact=True).click)
    select = page.get_by_label("Inspect an item", exact=True)

    def pick(prefix: str) -> None:
        select.click()
        select.fill(prefix)
        page.keyboard.press("Enter")

    inspect = [_rerun_ms(page, lambda prefix=f"{2 + i % 5}.": pick(prefix)) for i in range(moves)]
    return slider, inspect


def main() -> None:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser()
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--moves", type=int, default=10)
    ap.add_argument("--generator", default="local-llm", help="reason generator for the Recommend run")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    cold: list[float] = []
    slider: list[float] = []
    inspect: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for n in range(args.starts):
            port = _port()
            url = f"http://127.0.0.1:{port}"
            start = time.perf_counter()
            proc = _serve(port)
            try:
                _wait_http(url)
                page = browser.new_page(viewport={"width": 1500, "height": 1100})
                page.set_default_timeout(180_000)
                page.goto(url)
                page.get_by_text("Ready:").wait_for()
                page.wait_for_selector(IDLE)
                cold.append(time.perf_counter() - start)
                if n == args.starts - 1:
                    slider, inspect = _warm(page, url, args.moves, args.generator)
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=30)
        browser.close()

    def pct(xs: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in np.percentile(xs, [50, 95])) if xs else "n/a"

    table = (
        "| measurement | n | p50 / p95 |\n|---|---|---|\n"
        f"| cold start to an interactive home page (s) | {len(cold)} | "
        + " / ".join(f"{v:.1f}" for v in np.percentile(cold, [50, 95]))
        + " |\n"
        f"| Tune: weight slider step, key press to idle page (ms) | {len(slider)} | {pct(slider)} |\n"
        f"| Recommend: inspect another item after a run with {args.generator} reasons (ms) | {len(inspect)} | {pct(inspect)} |\n\n"
        "Targets: cold start < 20 s on 2 CPU cores after `make setup`; warm rerun after a slider change < 1 s "
        "without regenerating reasons.\n\n"
        f"Command: `.venv/bin/python bench/explorer_latency.py --starts {args.starts} --moves {args.moves} "
        f"--generator {args.generator} --write`"
    )
    print(table)
    if args.write:
        write_section("explorer_latency", "## Explorer latency (real browser)\n\n" + table)


if __name__ == "__main__":
    main()
