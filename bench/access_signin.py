"""Explorer sign-in cost: what one password check costs a visitor, and so what it costs someone guessing.

Usage: .venv/bin/python bench/access_signin.py [--checks 5]

* hashed check: ``AccessSettings.role_for_password`` against ``GENRE_OPERATOR_PASSWORD_HASH`` at the default
  PBKDF2 rounds (a wrong password, so every configured hash is tried), seconds per sign-in attempt and the
  guesses per second one core gets;
* plain check: the same against ``GENRE_OPERATOR_PASSWORD`` (SHA-256 digests compared in constant time);
* settings read: ``AccessSettings.from_env`` as every page run does it (parsing the hash, no PBKDF2).

Prints its figures; nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from genre.access import DEFAULT_ITERATIONS, AccessSettings, hash_password


def _seconds(call: object, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=5, help="timed sign-in attempts per variant")
    args = parser.parse_args()

    hashed = AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD_HASH": hash_password("correct horse battery")})
    both = AccessSettings.from_env(
        {
            "GENRE_OPERATOR_PASSWORD_HASH": hash_password("correct horse battery"),
            "GENRE_VIEWER_PASSWORD_HASH": hash_password("viewer staple"),
        }
    )
    plain = AccessSettings.from_env({"GENRE_OPERATOR_PASSWORD": "correct horse battery"})
    env = {"GENRE_OPERATOR_PASSWORD_HASH": hash_password("correct horse battery")}

    one = _seconds(lambda: hashed.role_for_password("wrong guess"), args.checks)
    two = _seconds(lambda: both.role_for_password("wrong guess"), args.checks)
    fast = _seconds(lambda: plain.role_for_password("wrong guess"), 2000)
    read = _seconds(lambda: AccessSettings.from_env(env), 2000)

    print(f"cpu cores visible: {os.cpu_count()}; PBKDF2-SHA256 rounds: {DEFAULT_ITERATIONS:,}")
    print(f"hashed check, operator hash only: median {statistics.median(one):.3f} s per attempt "
          f"({1 / statistics.median(one):.1f} guesses/s on one core)")  # fmt: skip
    print(f"hashed check, operator and viewer hashes: median {statistics.median(two):.3f} s per attempt")
    print(f"plain check (SHA-256 + compare_digest): median {statistics.median(fast) * 1e6:.1f} us per attempt")
    print(f"settings read per page run (from_env with a hash): median {statistics.median(read) * 1e6:.1f} us")


if __name__ == "__main__":
    main()
