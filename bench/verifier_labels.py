"""The claim verifier against the labels a person wrote: precision, recall per error type, the fluency floor.

Usage (from the repository root):

    HF_HUB_OFFLINE=1 .venv/bin/python bench/verifier_labels.py            # calibrate on dev, report held-out
    HF_HUB_OFFLINE=1 .venv/bin/python bench/verifier_labels.py --show 20  # also print disagreements to read
    HF_HUB_OFFLINE=1 .venv/bin/python bench/verifier_labels.py --write    # and append the section to RESULTS.md

Every labelled reason (``sample_data/reasons/labelled``) is verified against the request it was
written for (``LabelledReason.request()``), with its domain's catalog. The fluency floor (the base
SmolLM2's mean token log-probability, :mod:`genre.text.fluency`) is chosen on the **dev** part only:
the floor with the best dev precision that rejects at most 5% of the acceptable reasons the other checks pass
(no floor when none raises precision). The held-out
part is then reported with that floor:

- precision: of the reasons the verifier passes, the share a person labelled acceptable;
- pass rate, and the share of acceptable reasons it rejects (false rejections);
- recall per labelled error type: of the reasons a person gave that error, the share it rejects.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import write_section
from genre import load_config
from genre.core.types import Catalog
from genre.core.verdict import Verdict
from genre.data import load_catalog
from genre.data.labelled import ERROR_TYPES, LabelledReason, load_labelled
from genre.data.movielens import load_movielens_100k
from genre.models import load_generator
from genre.text.fluency import mean_logprobs
from genre.text.verifier import Verifier, VerifierConfig

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "HF_HUB_OFFLINE=1 .venv/bin/python bench/verifier_labels.py"
CONFIGS = {"products": ROOT / "configs" / "products.toml", "news": ROOT / "configs" / "news.toml"}


@dataclass
class Case:
    reason: LabelledReason
    verdict: Verdict
    fluency: float

    @property
    def acceptable(self) -> bool:
        assert self.reason.label is not None
        return self.reason.label.acceptable

    def passes(self, floor: float | None) -> bool:
        return self.verdict.passed and (floor is None or self.fluency >= floor)


def catalogs(movielens: Catalog) -> dict[str, Catalog]:
    out = {"movies": movielens}
    for domain, path in CONFIGS.items():
        out[domain] = load_catalog(load_config(path).data)
    return out


def verify_all(reasons: Sequence[LabelledReason], movielens: Catalog) -> list[Case]:
    """Every reason's verdict (no fluency floor) and its fluency under the base model."""
    verifiers = {d: Verifier(c, VerifierConfig()) for d, c in catalogs(movielens).items()}
    fluency = mean_logprobs([r.text for r in reasons], load_generator("cpu"))
    return [Case(r, verifiers[r.domain].verify(r.text, r.request()), f) for r, f in zip(reasons, fluency, strict=True)]


MAX_LOST = 0.05
"""The floor may reject at most this share of the dev reasons that are acceptable and pass every other check."""


def calibrate(dev: Sequence[Case]) -> float | None:
    """The fluency floor with the best precision on ``dev`` that rejects at most ``MAX_LOST`` of the acceptable
    reasons the other checks pass (None when no floor raises precision).

    Most correct decisions would be the wrong aim: with few acceptable reasons, rejecting everything wins.
    """

    def precision(floor: float | None) -> float:
        passed = [c for c in dev if c.passes(floor)]
        return sum(c.acceptable for c in passed) / len(passed) if passed else 0.0

    good = [c for c in dev if c.acceptable and c.verdict.passed]
    best: tuple[float, float | None] = (precision(None), None)
    for floor in sorted({round(c.fluency, 2) for c in dev if c.verdict.passed}):
        if sum(c.fluency < floor for c in good) > MAX_LOST * len(good):
            break
        if precision(floor) > best[0]:
            best = (precision(floor), floor)
    return best[1]


def report(cases: Sequence[Case], floor: float | None, title: str) -> list[str]:
    """A markdown table: per generator and overall, precision, pass rate, false rejections, recall."""
    lines = [
        f"**{title}** ({len(cases)} reasons; fluency floor {floor if floor is not None else 'none'})",
        "",
        "| generator | reasons | labelled acceptable | verifier passes | precision | acceptable rejected "
        "| unacceptable rejected (recall) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    groups: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        groups[c.reason.generator].append(c)
    groups["all"] = list(cases)
    for name, group in groups.items():
        ok = [c for c in group if c.acceptable]
        bad = [c for c in group if not c.acceptable]
        passed = [c for c in group if c.passes(floor)]
        precision = sum(c.acceptable for c in passed) / len(passed) if passed else float("nan")
        lines.append(
            f"| {name} | {len(group)} | {len(ok)} ({len(ok) / len(group):.1%}) | {len(passed)} "
            f"| {precision:.1%} | {sum(not c.passes(floor) for c in ok)} of {len(ok)} "
            f"| {sum(not c.passes(floor) for c in bad)} of {len(bad)} "
            f"({sum(not c.passes(floor) for c in bad) / max(len(bad), 1):.1%}) |"
        )
    lines += ["", "| labelled error type | reasons | rejected by the verifier | recall |", "|---|---:|---:|---:|"]
    per_type: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    for c in cases:
        assert c.reason.label is not None
        for e in c.reason.label.errors:
            per_type[e] += 1
            caught[e] += not c.passes(floor)
    for e in ERROR_TYPES:
        if per_type[e]:
            lines.append(f"| {e} | {per_type[e]} | {caught[e]} | {caught[e] / per_type[e]:.1%} |")
    return lines


def show(cases: Sequence[Case], floor: float | None, n: int) -> None:
    """Print up to ``n`` disagreements of each kind, to read against their labels."""
    wrong_pass = [c for c in cases if c.passes(floor) and not c.acceptable]
    wrong_reject = [c for c in cases if not c.passes(floor) and c.acceptable]
    for title, group in (("passed but labelled not acceptable", wrong_pass), ("rejected but acceptable", wrong_reject)):
        print(f"\n## {title}: {len(group)}")
        for c in group[:n]:
            assert c.reason.label is not None
            print(f"- [{c.reason.id}] {c.reason.text}")
            print(f"    label: {list(c.reason.label.errors)} {c.reason.label.note}")
            print(f"    verifier: {c.verdict.problems} fluency {c.fluency:.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show", type=int, default=0, help="print this many disagreements of each kind")
    parser.add_argument("--write", action="store_true", help="record the section in bench/RESULTS.md")
    args = parser.parse_args(argv)

    movielens = load_movielens_100k()
    reasons = load_labelled(movielens=movielens)
    cases = verify_all(reasons, movielens)
    dev = [c for c in cases if c.reason.split == "dev"]
    held = [c for c in cases if c.reason.split == "heldout"]
    floor = calibrate(dev)
    lines = [
        "## The claim verifier against the person-written labels",
        "",
        f"Command: `{COMMAND} --write`. The base SmolLM2-135M on CPU measures fluency. The fluency floor is chosen on dev only; the held-out part is reported with it. Both rounds of labels are included "
        "(before: local-llm, tuned-local, template; after: the grounded generator).",
        "",
        *report(dev, floor, "dev"),
        "",
        *report(held, floor, "held-out"),
        "",
        f"Calibrated fluency floor (`VerifierConfig.min_fluency`): {floor if floor is not None else 'none'}.",
    ]
    print("\n".join(lines))
    if args.show:
        show(held, floor, args.show)
    if args.write:
        write_section("verifier_labels", "\n".join(lines))
        print("\nwrote the verifier_labels section of bench/RESULTS.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
