"""scripts/pg_test_server.sh: a throwaway PostgreSQL beside a command, gone afterwards, the command's exit status kept."""

from __future__ import annotations

import glob
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "pg_test_server.sh"


@pytest.mark.skipif(
    not glob.glob("/usr/lib/postgresql/*/bin/initdb") and os.environ.get("CI", "").lower() not in ("true", "1", "yes"),
    reason="no PostgreSQL server binaries (Debian's postgresql); CI installs them",
)
def test_the_server_runs_for_the_command_and_is_removed_even_when_it_fails(tmp_path):
    work = tmp_path / "tmp"  # root-only under pytest: as root the script falls back to /tmp
    work.mkdir()
    done = subprocess.run(
        [str(SCRIPT), "sh", "-c", 'echo "$GENRE_TEST_PG_URL"; exit 7'],
        capture_output=True, text=True, timeout=120, env={**os.environ, "TMPDIR": str(work)},
    )  # fmt: skip
    assert done.returncode == 7, done.stderr  # the command's status, not the script's
    match = re.fullmatch(r"postgresql\+psycopg://postgres@127\.0\.0\.1:(\d+)/genre_test", done.stdout.strip())
    assert match, done.stdout
    data = re.search(r"\(data in (\S+)\)", done.stderr)
    assert data and "genre-pg." in data.group(1)
    assert not Path(data.group(1)).exists()  # removed
    with socket.socket() as s, pytest.raises(OSError):  # the server is stopped
        s.settimeout(2)
        s.connect(("127.0.0.1", int(match.group(1))))


def test_without_a_command_it_says_how_to_call_it():
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage:" in done.stderr
