"""Delexicalised training data (exact slotted outputs) and ``tuned-local`` as the grounded reasoner with an adapter.

Everything here runs on tiny data and stand-ins: the plan of a toy request, a tokenizer trained
here, and a stubbed ``_generate``. Training and loading a real adapter on a tiny Llama are in
``test_tuning.py``; the shipped adapter on MovieLens is the slow test at the end.
"""

from __future__ import annotations

import random
import re

import pytest

from genre.components.env import Env
from genre.components.reasoners import tuned as tuned_module
from genre.components.reasoners.constrained import CONNECTING_WORDS
from genre.components.reasoners.grounded import GroundedReasoner
from genre.components.reasoners.plan import make_plan
from genre.components.reasoners.slotted import SYSTEM, plan_problems, slot_problems
from genre.components.reasoners.tuned import DEFAULT_ADAPTER, SHIPPED_ADAPTERS, TunedLocalReasoner
from genre.core.types import Evidence
from genre.models import Generator
from genre.text.verifier import Verifier
from genre.training.composed import composed_targets, vary_why
from genre.training.reasoner_data import TrainingPair
from genre.training.slotted_data import build_slotted_example, delexicalise, slotted_pair
from tests.explain.test_grounded import CATALOG, toy_request

# ---- delexicalisation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slotted"),
    [
        (
            "Because 120 people who rated Aladdin (1992) also rated it, Toy Story is a safe bet: it shares "
            "Animation and Children's with The Lion King (1994).",
            "Because {why}, {item} is a safe bet: it shares {shared} with {hist2}.",
        ),
        # Titles without their year or article, any case; one shared category is the {shared} slot.
        (
            "Like aladdin, this is animation, and it fits your interest in animated family film.",
            "Like {hist1}, this is {shared}, and it fits your interest in {intent}.",
        ),
        (
            "If you enjoyed Lion King, try this one next, because 120 people who rated Aladdin (1992) also rated it.",
            "If you enjoyed {hist2}, try this one next, because {why}.",
        ),
        # A title outside the plan and a figure outside its phrase stay literal (and the pair is dropped).
        ("Fans of Fargo (1996) and Aladdin gave it 99 votes.", "Fans of Fargo (1996) and {hist1} gave it 99 votes."),
    ],
)
def test_every_literal_plan_value_becomes_its_slot(text, slotted):
    assert delexicalise(text, make_plan(toy_request())) == slotted


def test_a_trailing_article_title_is_found_as_written_in_a_sentence():
    from genre.core.types import Item

    lion = Item("71", "Lion King, The (1994)", ("Animation", "Children's", "Musical"))
    req = toy_request()
    req.history[1] = lion
    req.evidence["content"] = [Evidence("history_item", lion.title, 0.5, "71")]
    assert delexicalise("It is like The Lion King.", make_plan(req)) == "It is like {hist2}."


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        (
            "Because 120 people who rated Aladdin (1992) also rated it, this is a safe bet: it shares Animation and "
            "Children's with The Lion King (1994).",
            "kept",
        ),
        ("Rated by 99 people, Toy Story is a safe bet like Aladdin (1992).", "number outside a slot"),
        (
            "Fans of Aladdin (1992) and Heat Wave Special love it, as it shares Animation with it.",
            "title-like name outside a slot",
        ),
        # Names a title and says nothing of what links it to the item: the verifier rejects it first.
        ("Because you liked Aladdin (1992), this is a safe bet.", "verifier"),
        ("Since you liked Aladdin, this Sci-Fi pick shares Animation and Children's with The Lion King.", "verifier"),
        ("Aladdin (1992) and Aladdin (1992) share Animation.", "slot problem"),
        ("A lovely pick", "no finished sentence"),
        ("It is a lovely pick for tonight.", "no slot"),
    ],
)
def test_pairs_are_kept_only_when_the_grounded_reasoner_could_show_them(text, outcome):
    out, why = slotted_pair(TrainingPair(toy_request(), text, "test"), Verifier(CATALOG), CATALOG.category_names())
    assert why == outcome
    assert (out is not None) is (outcome == "kept")
    if out is not None:
        assert out.target == "Because {why}, this is a safe bet: it shares {shared} with {hist2}."
        assert out.filled == text and out.source == "test"


def test_composed_targets_use_a_fact_slot_and_only_connecting_words():
    plan = make_plan(toy_request())
    targets = composed_targets(plan, random.Random(0), 6)
    assert len(targets) == 6 and len(set(targets)) == 6
    for t in targets:
        assert not slot_problems(t, plan.slots()), t
        assert re.search(r"\{(shared|why|intent)\}", t), t
        own = re.sub(r"\{\w+\}", " ", t)
        assert all(w.lower() in CONNECTING_WORDS for w in re.findall(r"[A-Za-z']+", own)), t
        # {why} names {hist1} already: a composed sentence never names it again.
        assert "{hist1}" not in t, t


def test_vary_why_credits_the_strongest_history_item_to_a_co_rating_and_a_sequence():
    co_rated, sequence = vary_why(toy_request(), random.Random(0))
    assert make_plan(co_rated).why.kind == "co-rated" and make_plan(co_rated).why.hist == "hist1"
    assert make_plan(sequence).why.phrase == "it is often picked right after {hist1}"


def test_a_sentence_without_a_main_clause_and_an_unbacked_order_are_rejected():
    plan = make_plan(toy_request())
    headless = slot_problems("Right after {hist2}, and it shares {shared} with {hist1}.", plan.slots())
    assert "no main clause after 'Right after {hist2}'" in headless
    assert not slot_problems("Right after {hist2}, this is a safe bet.", plan.slots())
    # The toy plan's strongest scorer co-rates: nothing says the item came after {hist2}.
    assert plan_problems("Right after {hist2}, this is a safe bet.", plan) == [
        "says it comes after {hist2}, but no sequence scorer said so"
    ]
    _, sequence = vary_why(toy_request(), random.Random(0))
    assert plan_problems("Right after {hist1}, this is a safe bet.", make_plan(sequence)) == []
    # The sequence scorer cited {hist1}, not {hist2}.
    assert plan_problems("Right after {hist2}, this is a safe bet.", make_plan(sequence)) != []


@pytest.mark.parametrize(
    ("slotted", "problem"),
    [
        ("Since {why}, try this one next, because {hist2}.", "'because {hist2}' gives no reason"),
        (
            "If you enjoyed {hist2}, try this one next, and it fits your taste, and try it next, because {why}.",
            "says again: next, try",
        ),
        ("It shares {shared} with {hist2} too.", "'too' with nothing before it"),
    ],
)
def test_sentences_that_read_wrong_are_rejected(slotted, problem):
    # Each of these passed the checks once and was shown on a fresh MovieLens run.
    assert problem in slot_problems(slotted, make_plan(toy_request()).slots())


# ---- the training example is the grounded prompt without prefill ------------------------------


def test_a_slotted_example_prompts_exactly_as_the_grounded_reasoner_and_labels_only_the_answer():
    from tests.explain.test_tuning import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    prompter = TunedLocalReasoner()
    prompter.generator = Generator(model=None, tokenizer=tokenizer, device="cpu", name="tiny")
    text = "Because 120 people who rated Aladdin (1992) also rated it, this is a safe bet."
    pair, _ = slotted_pair(TrainingPair(toy_request(), text + "", "test"), Verifier(CATALOG), ())
    pair = pair or pytest.fail("the toy pair should survive")
    ex = build_slotted_example(prompter, pair)
    assert ex.prompt == GroundedReasoner._input_text(prompter, pair.plan, "")
    assert ex.prompt.startswith(f"<|im_start|>system\n{SYSTEM}<|im_end|>") and ex.prompt.endswith("assistant\n")
    assert "{why}: 120 people who rated {hist1} also rated it" in ex.prompt and "Aladdin" not in ex.prompt
    assert "Calder Brew" not in ex.prompt  # no worked examples: the adapter learned the form
    n = ex.prompt_length
    assert ex.labels[:n] == [-100] * n and ex.labels[n:] == ex.input_ids[n:]
    assert tokenizer.decode(ex.input_ids[n:]) == "Because {why}, this is a safe bet.<|im_end|>"


# ---- tuned-local is the grounded reasoner on the adapter's model -------------------------------


@pytest.fixture
def tuned(monkeypatch):
    """A prepared tuned-local whose adapter model is never loaded (tests stub ``_generate``)."""
    loaded: list = []
    monkeypatch.setattr(tuned_module, "load_tuned_generator", lambda device, path, precision: loaded.append(path))
    r = TunedLocalReasoner({"candidates": 2, "prefill": False})
    r.prepare(Env(CATALOG, "cpu"))
    r.loaded = loaded
    return r


def test_tuned_local_loads_the_default_adapter_and_can_write_without_prefill(tuned, monkeypatch):
    assert isinstance(tuned, GroundedReasoner) and DEFAULT_ADAPTER == "grounded"
    # Prefilled openings are the measured default (more candidates pass); the adapter also writes without.
    assert TunedLocalReasoner().config.prefill is True and TunedLocalReasoner().config.shots is False
    assert tuned.loaded and tuned.loaded[0].name == "grounded"
    calls = []

    def fake(plans, prefixes, seed):
        calls.append(prefixes)
        return ["Like {hist2}, this is a safe bet: it shares {shared} with it.", "Because {why}, try {hist3}."], [
            -1.0,
            -0.5,
        ]

    monkeypatch.setattr(tuned, "_generate", fake)
    out = tuned([toy_request()]).reasons[0]
    assert calls == [["", ""]]  # prefill off: the adapter writes the whole sentence
    assert out.generator == "tuned-local" and not out.fallback
    assert out.text == "Like The Lion King (1994), this is a safe bet: it shares Animation and Children's with it."
    assert out.evidence_ids == ["71"]
    assert [c.problems for c in out.rejected] == [["unknown slot: {hist3}"]]


def test_tuned_local_shows_the_template_when_no_candidate_passes(tuned, monkeypatch):
    monkeypatch.setattr(tuned, "_generate", lambda plans, prefixes, seed: (["{item} is {hist9}."] * 2, [-1.0] * 2))
    out = tuned([toy_request()]).reasons[0]
    assert out.fallback and out.generator == "template" and "{" not in out.text
    assert len(out.rejected) == 2


@pytest.mark.parametrize(("variety", "second"), [(1.0, "If you enjoyed"), (0.0, "Because you liked")])
def test_variety_picks_a_less_repeated_passing_candidate_within_a_call(tuned, monkeypatch, variety, second):
    safe = "Because you liked {hist2}, this is a safe bet: it shares {shared} with it."
    other = "If you enjoyed {hist2}, try this one next: it shares {shared} with it."
    rows = [(safe, -0.5), (other, -0.7)] * 2  # two items, the same two candidates each
    monkeypatch.setattr(tuned, "_generate", lambda plans, prefixes, seed: ([t for t, _ in rows], [f for _, f in rows]))
    tuned.config = tuned.config.model_copy(update={"variety": variety})
    first, then = tuned([toy_request(), toy_request()]).reasons
    assert first.text.startswith("Because you liked") and then.text.startswith(second)
    assert not first.fallback and not then.fallback


@pytest.mark.slow
@pytest.mark.integration
def test_the_shipped_adapter_on_movielens_user_1():
    """Real SmolLM2 + the shipped adapter on MovieLens user 1, through the pipeline: no literal slot, no
    invented or wrong title in any shown reason, and each reason carries its verdict."""
    from genre import Pipeline, load_config
    from genre.config import StageSpec
    from genre.data.users import dataset_user_context
    from tests.conftest import ROOT

    assert (SHIPPED_ADAPTERS / DEFAULT_ADAPTER / "adapter_model.safetensors").is_file()
    base = load_config(ROOT / "configs" / "movies.toml")
    pipe = Pipeline(base.model_copy(update={"explain": StageSpec(component="tuned-local")}))
    trace = pipe.run(dataset_user_context(pipe.catalog, "1"), k=10)
    assert len(trace.items) == 10
    generated = 0
    for item in trace.items:
        reason = item.reason
        assert "{" not in reason.text and "}" not in reason.text, reason.text
        assert reason.verdict is not None, reason.text
        errors = set(reason.verdict.errors)
        assert not {"invented_title", "wrong_title", "wrong_target"} & errors, (reason.text, reason.verdict.problems)
        if reason.generator == "tuned-local":
            generated += 1
            assert reason.verdict.passed, (reason.text, reason.verdict.problems)
        else:
            assert reason.generator == "template" and reason.fallback
    assert generated, [i.reason.text for i in trace.items]
