"""What every command group shares: output formats and the subparser type."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

FORMATS = ("table", "json")

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]


def print_notices(notices: list[str]) -> None:
    """Notices from building a pipeline (e.g. corrupt saved state that was retrained), one ``note:`` line each."""
    for notice in notices:
        print(f"note: {notice}")
