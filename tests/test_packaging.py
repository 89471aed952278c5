"""Packaging and CI plumbing: the wheel, the `genre` console script, requirements.txt, make and .ci/run."""

import importlib.util
import os
import re
import shutil
import site
import stat
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import EntryPoint, entry_points

import pytest

from tests.conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def _gen_requirements():
    spec = importlib.util.spec_from_file_location("gen_requirements", ROOT / "scripts" / "gen_requirements.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _makefile_var(name: str) -> str:
    match = re.search(rf"^{name} := (.+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert match, f"Makefile defines no {name}"
    return match.group(1).strip()


# ---- the console script ---------------------------------------------------------------------


def _console_entry_point() -> EntryPoint:
    """The installed `genre` entry point when GENRE is installed, else the one pyproject.toml declares."""
    declared = PROJECT["scripts"]["genre"]
    installed = [
        ep
        for ep in entry_points(group="console_scripts", name="genre")
        if ep.dist is not None and ep.dist.name == "genre"
    ]
    if installed:
        assert installed[0].value == declared
        return installed[0]
    return EntryPoint(name="genre", value=declared, group="console_scripts")


def test_console_script_entry_point_prints_the_help(monkeypatch, capsys):
    assert PROJECT["scripts"] == {"genre": "genre.cli:main"}
    main = _console_entry_point().load()
    monkeypatch.setattr(sys, "argv", ["genre", "--help"])
    with pytest.raises(SystemExit) as exit_:
        sys.exit(main())  # what the script pip generates does
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:")
    assert all(command in out for command in ("recommend", "check-config", "update", "rollback"))


# ---- the wheel ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the sources (so build/ and *.egg-info never land in the tree)."""
    pytest.importorskip("setuptools")
    src = tmp_path_factory.mktemp("src")
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    shutil.copytree(ROOT / "genre", src / "genre", ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(src)]
    subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, "PIP_NO_INDEX": "1"})
    (path,) = out.glob("genre-*.whl")
    return path


def test_wheel_holds_only_the_genre_package_with_its_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        metadata = zf.read(f"{dist_info}/METADATA").decode()
        scripts = zf.read(f"{dist_info}/entry_points.txt").decode()
    assert {n.split("/")[0] for n in names} == {"genre", dist_info}
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "genre").rglob("*.py")}
    assert sources <= set(names)  # every subpackage found, e.g. genre/feedback/store/
    assert "[console_scripts]\ngenre = genre.cli:main" in scripts
    assert "Requires-Dist: torch==2.13.0\n" in metadata
    assert set(re.findall(r"^Provides-Extra: (\S+)$", metadata, re.MULTILINE)) == {"ui", "llm", "train", "serve", "ray", "dev"}
    for extra, packages in PROJECT["optional-dependencies"].items():
        for package in packages:
            name = re.split(r"[<>=!~ ]", package)[0]
            assert re.search(rf'^Requires-Dist: {re.escape(name)}\b.*; extra == "{extra}"$', metadata, re.MULTILINE)


def test_installed_console_script_runs(wheel, tmp_path):
    target = tmp_path / "pkg"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    script = target / "bin" / "genre"
    assert script.stat().st_mode & stat.S_IXUSR
    path = os.pathsep.join([str(target), *site.getsitepackages()])
    env = {**os.environ, "PYTHONPATH": path, "HF_HUB_OFFLINE": "1"}
    probe = "import genre.cli; print(genre.cli.__file__)"
    where = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    assert where.stdout.strip().startswith(str(target))  # the installed copy, not the worktree
    run = subprocess.run([str(script), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "recommend" in run.stdout and "update" in run.stdout


# ---- requirements.txt and the Makefile ------------------------------------------------------


def test_requirements_txt_is_generated_from_pyproject():
    gen = _gen_requirements()
    text = gen.render(ROOT / "pyproject.toml")
    assert (ROOT / "requirements.txt").read_text(encoding="utf-8") == text
    listed = [line for line in text.splitlines() if line and not line.startswith("#")]
    expected = PROJECT["dependencies"] + [p for e in gen.EXTRAS for p in PROJECT["optional-dependencies"][e]]
    assert listed == expected and listed[0] == "torch==2.13.0"


def test_gen_requirements_check_fails_on_a_stale_file(tmp_path):
    stale = tmp_path / "requirements.txt"
    stale.write_text((ROOT / "requirements.txt").read_text().replace("sqlalchemy", "sqlalchemy-old"))
    script = [sys.executable, str(ROOT / "scripts" / "gen_requirements.py"), "--output", str(stale)]
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 1
    assert subprocess.run(script, capture_output=True).returncode == 0
    assert subprocess.run([*script, "--check"], capture_output=True).returncode == 0
    assert stale.read_text() == (ROOT / "requirements.txt").read_text()


def test_makefile_installs_what_pyproject_declares():
    assert _makefile_var("TORCH") in PROJECT["dependencies"]
    assert tuple(_makefile_var("EXTRAS").split(",")) == _gen_requirements().EXTRAS
    assert set(_gen_requirements().EXTRAS) <= set(PROJECT["optional-dependencies"])
    dev = " ".join(PROJECT["optional-dependencies"]["dev"])
    assert "import-linter" in dev and "mypy" in dev  # `make check` runs lint-imports and mypy


# ---- CI fails when pytest collects nothing --------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed (.ci/run installs it)")
@pytest.mark.parametrize(("selection", "make_fails"), [("no_such_test_name", True), ("store_loads", False)])
def test_make_pytest_fails_exactly_when_pytest_fails(selection, make_fails):
    # -o: treat the install stamp as done, so this runs pytest in the current environment only.
    args = f"-p no:cacheprovider -q tests/feedback/test_imports.py -k {selection}"
    cmd = [
        "make",
        "--no-print-directory",
        "-o",
        ".make/installed",
        "pytest",
        f"PY={sys.executable}",
        f"PYTEST_ARGS={args}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert (proc.returncode != 0) == make_fails, proc.stdout + proc.stderr
    if make_fails:
        assert "Error 5" in proc.stderr  # pytest's "no tests collected", not some other failure


def test_ci_run_exits_with_the_status_of_make_test(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    # Stand-ins: make fails like pytest collecting nothing; the rest is present, so nothing is installed.
    tools = {
        "make": 'echo "make $*" >> "$(dirname "$0")/called"; exit 5',
        "chromium": "exit 0",
        "python3.11": "exit 0",
        "apt-get": 'echo "apt-get $*" >> "$(dirname "$0")/called"; exit 1',
    }
    for tool, body in tools.items():
        (fake / tool).write_text(f"#!/bin/sh\n{body}\n")
        (fake / tool).chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(["bash", str(ROOT / ".ci" / "run")], env=env, capture_output=True, text=True)
    assert (fake / "called").read_text().splitlines() == ["make test"]
    assert proc.returncode == 5
