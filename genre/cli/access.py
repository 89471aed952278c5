"""``hash-password``: the value of ``GENRE_OPERATOR_PASSWORD_HASH`` or ``GENRE_VIEWER_PASSWORD_HASH``.

The password is read from the terminal without echo (asked twice), or as one line of standard input when
piped, so it never appears in the shell's history or the process list. Only the salted hash is printed.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from genre.access import DEFAULT_ITERATIONS, MIN_ITERATIONS, hash_password
from genre.core.errors import InputError

if TYPE_CHECKING:
    from genre.cli._shared import Subparsers


def add_hash_password(sub: Subparsers) -> None:
    p = sub.add_parser(
        "hash-password",
        help="hash an explorer sign-in password for GENRE_OPERATOR_PASSWORD_HASH / GENRE_VIEWER_PASSWORD_HASH",
    )
    p.add_argument(
        "--iterations",
        type=int,
        default=DEFAULT_ITERATIONS,
        help=f"PBKDF2-SHA256 rounds (at least {MIN_ITERATIONS:,}; default {DEFAULT_ITERATIONS:,})",
    )
    p.set_defaults(handler=_hash)


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise InputError("The two passwords differ; nothing was hashed.")
        return first
    # Piped: the first line, without its line ending (a password may end in spaces).
    return sys.stdin.readline().rstrip("\r\n")


def _hash(args: argparse.Namespace) -> int:
    password = _read_password()
    if not password:
        raise InputError("The password is empty; type one, or pipe it as the first line of standard input.")
    print(hash_password(password, iterations=args.iterations))
    return 0
