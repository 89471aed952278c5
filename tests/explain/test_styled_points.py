"""``grounded`` / ``tuned-local`` in the short, bullets and compare styles: points from the styled template, each
rewritten by the model with exactly its slots, judged, and replaced by the template point when it fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from genre.components.env import Env
from genre.components.reasoners import grounded as grounded_module
from genre.components.reasoners import tuned as tuned_module
from genre.components.reasoners.grounded import GroundedConfig, GroundedReasoner
from genre.components.reasoners.plan import make_plan
from genre.components.reasoners.points import Point, point_messages, point_problems, points_of, split_points
from genre.components.reasoners.styled_points import write_styled_outcome
from genre.components.reasoners.styles import STYLE_WORDS
from genre.components.reasoners.tuned import CARD_FILE, TunedLocalReasoner, require_style
from genre.core.errors import ConfigError
from tests.explain.test_grounded import CATALOG, toy_request


@pytest.fixture
def styled(monkeypatch):
    """A grounded reasoner per style whose model is never called: tests script ``_generate_rows``."""
    monkeypatch.setattr(grounded_module, "load_generator", lambda device, precision="auto": None)

    def make(style: str, **extra) -> GroundedReasoner:
        r = GroundedReasoner({"candidates": 2, "prefill": False, "style": style, **extra})
        r.prepare(Env(CATALOG, "cpu"))
        monkeypatch.setattr(r, "_chat_text", lambda chat, prefix: json.dumps(chat) + prefix)
        return r

    return make


def script(reasoner: GroundedReasoner, monkeypatch, answer) -> list:
    """Make ``_generate_rows`` answer each row with ``answer(point values)`` and record its calls."""
    calls: list = []

    def fake(texts, slots, prefixes, titles, seed, words=frozenset()):
        calls.append(texts)
        return [answer(row.values) for row in slots], [-0.5] * len(texts)

    monkeypatch.setattr(reasoner, "_generate_rows", fake)
    return calls


def good_point(values: dict[str, str]) -> str:
    """A well-formed slotted point for every slot set the toy plan produces."""
    if "new" in values and "hist1" in values:
        return "Unlike {hist1}, this one {new}."
    if "new" in values:
        return "What is new is that it {new}."
    if "shared" in values and "hist1" in values:
        return "It shares {shared} with {hist1}, which you liked."
    if "alike" in values and "hist1" in values:
        return "Just like {hist1}, it {alike}."
    if "intent" in values:
        return "It also matches your interest in {intent}."
    if "why" in values:
        return "Since {why}, this is a safe bet."
    return "It shares {shared} with {hist2}."


# ---- points -------------------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["short", "bullets", "compare"])
def test_points_follow_the_styled_template_and_never_offer_the_item_slot(styled, style):
    r = styled(style)
    req = toy_request()
    plan = make_plan(req)
    template = r.styled_template.write(req, plan).text
    points = points_of(plan, req, template, style)
    assert [p.template for p in points] == split_points(template, style)
    assert any(p.slotted is not None for p in points)
    for p in points:
        assert "item" not in p.values
        if p.slotted is not None:
            assert set(p.values) == {n for n in p.values if "{" + n + "}" in p.slotted}


def test_the_point_prompt_names_the_style_and_only_the_point_s_slots():
    point = Point("Unlike Aladdin, it is Crime.", "Unlike {hist1}, it {new}.", {"hist1": "Aladdin", "new": "is Crime"})
    chat = point_messages(point, "compare", 2, shots=False)
    last = chat[-1]["content"]
    assert last.startswith("Style: compare")
    assert "{new}: is Crime" in last and "{hist1}" in last
    listed = [line.split(":")[0] for line in last.splitlines()[2:]]
    assert listed == ["{hist1}", "{new}"]
    assert len(point_messages(point, "compare", 2, shots=True)) > len(chat)


@pytest.mark.parametrize(
    ("slotted", "problem"),
    [
        ("Unlike {hist1}, it is great.", "leaves out {new}"),
        ("Unlike {hist1}, it is {new}.", "{new} after 'is'"),
        ("Unlike {hist1}, it {new} is a good one.", "runs on after its fact"),
        ("Unlike {hist1}, it {new} and is not for you.", "a negation"),
        ("Unlike {hist1}, {item} {new}.", "unknown slot: {item}"),
        ("Where {hist1} is {theirs}, and it {new}.", "no main clause after 'Where"),
        ("Because both it and it {new}, like {hist1}.", "'it' stands for two things"),
        ("Unlike {hist1}, here's one that {new}.", "a contraction"),
        ("Unlike {hist1}, the new one {new}.", "says 'new' outside"),
        ("The new is that it {new}, unlike {hist1}.", "says 'new' outside"),
        ("What is new, next to {hist1}, this one {new}.", "says 'new' outside"),
        ("Because you liked {hist1}, and this one {new}.", "no main clause after its opening"),
    ],
)
def test_a_model_point_that_claims_more_or_less_than_its_template_is_rejected(slotted, problem):
    point = Point("Unlike Aladdin, it is Crime.", "Unlike {hist1}, it {new}.", {"hist1": "Aladdin", "new": "is Crime"})
    if "{theirs}" in slotted:
        point = Point("Where Aladdin is Musical, it is Crime.", slotted, {**point.values, "theirs": "Musical"})
    problems = point_problems(slotted, point, make_plan(toy_request()))
    assert any(problem in p for p in problems), problems
    good = (
        "Where {hist1} is {theirs}, this one {new}." if "theirs" in point.values else "Unlike {hist1}, this one {new}."
    )
    assert point_problems(good, point, make_plan(toy_request())) == []


# ---- the styled call ----------------------------------------------------------------------------


def test_an_intent_point_must_say_whose_interest_it_is():
    point = Point(
        "It fits your current interest in film.", "It fits your current interest in {intent}.", {"intent": "film"}
    )
    plan = make_plan(toy_request())
    assert any("your interest" in p for p in point_problems("The next one is in {intent}.", point, plan))
    assert point_problems("It also matches your interest in {intent}.", point, plan) == []


@pytest.mark.parametrize("style", ["short", "bullets", "compare"])
def test_every_writable_point_is_model_written_in_one_call(styled, monkeypatch, style):
    r = styled(style)
    calls = script(r, monkeypatch, good_point)
    reqs = [toy_request(), toy_request()]
    outcome = write_styled_outcome(r, reqs, 0)
    assert len(calls) == 1, "all items and points go through ONE generate call"
    writable = sum(
        p.slotted is not None
        for p in points_of(make_plan(reqs[0]), reqs[0], r.styled_template.write(reqs[0]).text, style)
    )
    assert len(calls[0]) == 2 * r.config.candidates * writable
    for out, model in zip(outcome.batch.reasons, outcome.model_points, strict=True):
        assert not out.fallback and out.generator == "grounded"
        assert model == writable
        assert r.checker.verify(out.text, toy_request(), max_words=r.config.word_bound).passed
    if style == "bullets":
        assert all(line.startswith("- ") for line in outcome.batch.reasons[0].text.split("\n"))


def test_a_failing_point_keeps_the_template_s_point(styled, monkeypatch):
    r = styled("bullets")
    req = toy_request()
    template = r.styled_template.write(req).text
    points = points_of(make_plan(req), req, template, "bullets")
    # The model gets only the intent point wrong (it leaves the slot out); every other point it writes well.
    script(r, monkeypatch, lambda v: "It is a good one for you." if "intent" in v else good_point(v))
    out = write_styled_outcome(r, [req], 0)
    shown = split_points(out.batch.reasons[0].text, "bullets")
    for point, text in zip(points, shown, strict=True):
        if point.slotted is not None and "intent" in point.values:
            assert text == point.template
    assert any("intent" in point.values for point in points)
    assert any("leaves out {intent}" in p for rej in out.batch.reasons[0].rejected for p in rej.problems)


def test_when_no_point_passes_the_reason_is_the_styled_template_marked_fallback(styled, monkeypatch):
    r = styled("short")
    script(r, monkeypatch, lambda v: "It is a thing.")
    req = toy_request()
    out = write_styled_outcome(r, [req], 0)
    reason = out.batch.reasons[0]
    assert reason.fallback and reason.text == r.styled_template.write(req).text
    assert out.model_points == [0]
    assert out.batch.notices and "template fallbacks" in out.batch.notices[0]


def test_one_line_stays_on_the_one_sentence_path(styled, monkeypatch):
    r = styled("one-line")
    monkeypatch.setattr(r, "_generate_rows", lambda *a, **k: pytest.fail("one-line must not write points"))
    monkeypatch.setattr(r, "_generate", lambda plans, prefixes, seed: (["x"] * len(prefixes), [-1.0] * len(prefixes)))
    assert len(r([toy_request()]).reasons) == 1


# ---- config and adapters ------------------------------------------------------------------------


def test_grounded_config_bounds_follow_the_style():
    assert GroundedConfig().word_bound == 40
    assert GroundedConfig(style="bullets").word_bound == STYLE_WORDS["bullets"][1]
    assert GroundedConfig(style="compare", max_words=30).word_bound == 30
    with pytest.raises(ValueError, match="haiku"):
        GroundedConfig(style="haiku")


def card_dir(tmp_path: Path, styles: list[str] | None) -> Path:
    out = tmp_path / "adapter"
    out.mkdir()
    card = {"base_model": {"name": "x", "fingerprint": "f"}}
    if styles is not None:
        card["styles"] = styles
    (out / CARD_FILE).write_text(json.dumps(card))
    return out


def test_an_adapter_without_the_style_fails_naming_the_styles_it_has(tmp_path, monkeypatch):
    adapter = card_dir(tmp_path, ["one-line", "short"])
    require_style(adapter, "short")
    with pytest.raises(ConfigError, match=r"trained for the styles one-line, short, not 'bullets'"):
        require_style(adapter, "bullets")
    # At load, before any model is read: tuned-local never merges an adapter it cannot use.
    monkeypatch.setattr(tuned_module, "load_tuned_generator", lambda *a: pytest.fail("must not load"))
    r = TunedLocalReasoner({"adapter_path": str(adapter), "style": "compare"})
    with pytest.raises(ConfigError, match="not 'compare'"):
        r.prepare(Env(CATALOG, "cpu"))


def test_a_card_from_before_styles_is_one_line_only(tmp_path):
    adapter = card_dir(tmp_path, None)
    require_style(adapter, "one-line")
    with pytest.raises(ConfigError, match="trained for the styles one-line, not 'short'"):
        require_style(adapter, "short")
