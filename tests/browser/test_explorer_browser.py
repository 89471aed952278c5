"""One real-browser walk through the explorer: Debian chromium driven by Playwright (never `playwright install`).

Builds a movie profile on Recommend, waits for the charts and generated reasons, compares two
configs on Tune, saves the README screenshot to assets/screenshot.png, and makes one blind side-by-side
judgement on Review.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Generous: SmolLM2 writes real reasons on the CPU, and a busy 2-core machine can be 10x slower.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
IDLE = "[data-testid=stApp][data-test-script-state=notRunning]"
SCREENSHOT = ROOT / "assets" / "screenshot.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `apt-get install chromium` (make test does this)")
    tmp = tmp_path_factory.mktemp("explorer")
    configs = tmp / "configs"
    configs.mkdir()
    shutil.copy(ROOT / "tests" / "fixtures" / "movies-fast.toml", configs / "movies-fast.toml")
    port = _free_port()
    env = {
        **os.environ,
        "GENRE_CONFIG_DIR": str(configs),
        "GENRE_FEEDBACK_URL": f"sqlite:///{tmp / 'feedback.sqlite3'}",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    log = (tmp / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.headless", "true"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start: " + (tmp / "streamlit.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _settle(page, timeout: float = 60_000) -> None:
    """Wait for the rerun a click started (if it has not started yet) to finish."""
    with contextlib.suppress(Exception):  # the rerun was quicker than the poll, or none was needed
        page.wait_for_selector("[data-testid=stApp][data-test-script-state=running]", timeout=1_500)
    page.wait_for_selector(IDLE, timeout=timeout)


def _pick(page, label: str, value: str) -> None:
    """Choose ``value`` in the selectbox/multiselect labelled ``label`` by typing it."""
    box = page.get_by_label(label, exact=True).and_(page.locator("input"))
    box.click()
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).first.click()


def test_build_a_profile_run_compare_and_screenshot(server):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1300})
        page.set_default_timeout(60_000)
        page.goto(server)
        page.wait_for_selector(IDLE)
        expect(page.get_by_role("heading", name="GENRE")).to_be_visible()
        expect(page.get_by_text("Ready:")).to_be_visible()

        # ---- Recommend: a movie profile built by hand, generated reasons ----
        page.get_by_role("link", name="Recommend").click()
        _settle(page)
        expect(page.get_by_role("heading", name="Recommend")).to_be_visible()
        page.get_by_text("Build a profile", exact=True).click()
        _settle(page)
        for title in ("Toy Story (1995)", "Aladdin (1992)", "The Lion King (1994)"):
            _pick(page, "History (in the order the user met them, oldest first)", title)
            _settle(page)
        page.locator('textarea[aria-label="Free-text profile"]').fill(
            "Animated family films with great songs; something warm for a rainy Sunday."
        )
        _pick(page, "Reason generator", "tuned-local")
        _settle(page)
        page.get_by_role("button", name="Recommend", exact=True).click()
        _settle(page, timeout=900_000)
        expect(page.get_by_text("Per-component contributions").first).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible()
        # Every item shows a verdict badge once its reason is written.
        expect(page.get_by_text("Writing the generated reason…")).to_have_count(0, timeout=600_000)
        verdicts = page.get_by_text(re.compile(r"^Verdict: "))
        expect(verdicts.first).to_be_visible()
        assert verdicts.count() >= 10
        assert (
            page.get_by_text("tuned-local", exact=True).count() + page.get_by_text("template", exact=True).count() >= 10
        )
        page.get_by_role("tab", name="Attribution").click()
        expect(page.get_by_text("Which past items drove each recommendation").first).to_be_visible()
        page.get_by_role("tab", name="Contributions").click()
        page.wait_for_timeout(800)  # let plotly finish its layout before the picture
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)

        # ---- Tune: compare two configs for a MovieLens user ----
        page.get_by_role("link", name="Tune").click()
        _settle(page)
        _pick(page, "Start from config", "movies-fast")
        _settle(page)
        page.locator('input[aria-label="User id"]').last.fill("7")
        page.keyboard.press("Enter")
        _settle(page)
        page.get_by_role("button", name="Compare", exact=True).click()
        _settle(page)
        expect(page.get_by_text("Overlap@10", exact=True)).to_be_visible()
        expect(page.get_by_text("A: NDCG@10", exact=True)).to_be_visible()
        expect(page.get_by_text("Rank movement, overlap@10").first).to_be_visible()
        assert not page.get_by_test_id("stException").count()

        # ---- Review: one blind side-by-side judgement (template against template naming one item) ----
        page.get_by_role("link", name="Review").click()
        _settle(page)
        expect(page.get_by_role("heading", name="Review", exact=True)).to_be_visible()
        page.get_by_text("Blind side by side", exact=True).click()
        _settle(page)
        page.get_by_label("Your name", exact=True).fill("Browser reviewer")
        page.get_by_role("button", name="Start reviewing").click()
        _settle(page)
        expect(page.get_by_text("Reviewing as")).to_be_visible()
        _pick(page, "Arm B generator", "template")
        _settle(page)
        page.get_by_text("Arm B options", exact=True).click()
        evidence = page.get_by_label("max evidence", exact=True).last  # arm B's: arm A's options come first
        evidence.fill("1")
        evidence.press("Enter")
        _settle(page)
        page.get_by_role("button", name="Write both arms' reasons").click()
        _settle(page, timeout=300_000)
        expect(page.get_by_text("Left is better").first).to_be_visible()
        page.get_by_text("Left is better").first.click()
        page.get_by_role("button", name="Save judgements").click()
        _settle(page)
        expect(page.get_by_text("Saved 1 judgement as Browser reviewer.")).to_be_visible()
        expect(page.get_by_text("Win rate of arm A (95% interval)").first).to_be_visible()
        assert not page.get_by_test_id("stException").count()
        browser.close()
    assert SCREENSHOT.stat().st_size > 50_000
