"""train-reasoner on the real SmolLM2 for a handful of steps, then tuned-local writes reasons with it (slow)."""

from __future__ import annotations

import json

import pytest

from genre import Pipeline, load_config
from genre.components.reasoners.tuned import CARD_FILE, TunedLocalReasoner
from genre.data.references import load_references, reference_path, to_request
from genre.evaluation.explanations import reference_split
from genre.models import generator_is_prepared
from genre.text.verifier import Verifier
from genre.training.lora import TuneSettings
from genre.training.reasoner import train_reasoner
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.mark.timeout(300)
def test_train_a_few_steps_then_generate_with_tuned_local(tmp_path):
    assert generator_is_prepared()  # `make setup` converts it once
    config = load_config(ROOT / "configs" / "products.toml")
    pipe = Pipeline(config)
    settings = TuneSettings(
        steps=3, batch_size=2, tune_layers=2, template_users=2, template_items=2, eval_pairs=0, composed=1
    )
    out = tmp_path / "adapter"
    result = train_reasoner(config, settings, out=out, pipeline=pipe)

    card = json.loads((out / CARD_FILE).read_text())
    assert card["steps"] == 3 and len(card["loss_curve"]) == 3
    assert card["base_model"]["name"] == "SmolLM2-135M-Instruct" and card["cached_bottom_layers"] is True
    assert card["prompt"]["kind"] == "slotted" and card["prompt"]["prefill"] is False
    survival, sources = card["data"]["survival"], card["data"]["sources"]
    # Most references describe the item in words no slot holds: few survive delexicalisation, all counted.
    assert sum(survival["reference:products"].values()) > 200 and sum(survival["reference:news"].values()) > 200
    assert sources["reference:products"] == survival["reference:products"]["kept"] >= 1
    assert sources["composed:products"] > 0 and sources["template:products"] > 0
    assert card["data"]["movielens"] is False and result.out == out

    reasoner = TunedLocalReasoner({"adapter_path": str(out), "max_new_tokens": 32, "candidates": 2})
    reasoner.prepare(pipe.env)
    _, held = reference_split(load_references(reference_path("products"), pipe.catalog))
    requests = [to_request(p, pipe.catalog) for p in held[:2]]
    outs = reasoner(requests).reasons
    assert reasoner.generator.name == "SmolLM2-135M-Instruct+adapter"
    assert len(outs) == 2 and all(o.text.endswith(".") and o.generator in ("tuned-local", "template") for o in outs)
    assert all("{" not in o.text and o.fallback is (o.generator == "template") for o in outs)
    verifier = Verifier(pipe.catalog)
    for out_, req in zip(outs, requests, strict=True):
        if not out_.fallback:
            assert verifier.verify(out_.text, req).passed, out_.text
