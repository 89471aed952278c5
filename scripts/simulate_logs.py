"""Regenerate the SIMULATED behaviour logs of the sample catalogs (sample_data/{products,news}/simulated_log.csv).

The events come from the seeded user model in genre/data/simulate.py, not from people; the configs that read
them set `simulated = true`, so every page that shows metrics or histories from them says so.

    PYTHONPATH=. python scripts/simulate_logs.py            # both domains
    PYTHONPATH=. python scripts/simulate_logs.py --domain news
"""

from __future__ import annotations

import argparse
from collections import Counter

from genre.core.paths import PROJECT_ROOT
from genre.data.simulate import SPECS, write_demo_log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", choices=sorted(SPECS), action="append", help="default: every domain")
    args = parser.parse_args()
    for domain in args.domain or sorted(SPECS):
        path = write_demo_log(PROJECT_ROOT / "sample_data" / domain, SPECS[domain])
        lines = path.read_text(encoding="utf-8").splitlines()[1:]
        events = Counter(line.rsplit(",", 1)[1] for line in lines)
        users = len({line.split(",", 1)[0] for line in lines})
        print(f"{path.relative_to(PROJECT_ROOT)}: {len(lines):,} simulated events, {users} users, {dict(events)}")


if __name__ == "__main__":
    main()
