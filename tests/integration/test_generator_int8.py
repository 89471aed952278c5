"""The real SmolLM2 with int8 weights (CPU's default precision) still writes fluent, verified reasons (slow)."""

from __future__ import annotations

import pytest

from genre import load_config
from genre.components.env import Env
from genre.components.reasoners.tuned import TunedLocalReasoner
from genre.data import load_catalog
from genre.data.references import load_references, reference_path, to_request
from genre.evaluation.explanations import reference_split
from genre.models import generator_is_prepared, load_generator
from genre.quantize import count_int8_linears
from genre.text.verifier import Verifier
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def test_int8_generator_has_int8_layers_and_agrees_with_fp32_on_a_plain_answer():
    assert generator_is_prepared()  # `make setup` converts it once
    int8, fp32 = load_generator("cpu", precision="int8"), load_generator("cpu", precision="fp32")
    # 30 decoder layers x 7 projections; the output head stays fp32.
    assert int8.precision == "int8" and count_int8_linears(int8.model) == 210 and count_int8_linears(fp32.model) == 0
    prompt = ["Name the capital of France in one short sentence."]
    a, b = int8.generate(prompt, max_new_tokens=12)[0], fp32.generate(prompt, max_new_tokens=12)[0]
    assert "Paris" in a and "Paris" in b


@pytest.mark.timeout(300)
def test_tuned_local_on_int8_writes_fluent_verified_reasons_for_real_requests():
    catalog = load_catalog(load_config(ROOT / "configs" / "products.toml").data)
    env = Env(catalog, "cpu")  # precision auto: int8 on CPU
    reasoner = TunedLocalReasoner({})
    reasoner.prepare(env)
    assert env.generator_precision == "int8" and reasoner.generator.precision == "int8"
    assert count_int8_linears(reasoner.generator.model) == 210  # the adapter was merged, then quantized
    _, held = reference_split(load_references(reference_path("products"), catalog))
    requests = [to_request(p, catalog) for p in held[:4]]
    outs = reasoner(requests, seed=0).reasons
    verifier = Verifier(catalog)
    written = [(o, r) for o, r in zip(outs, requests, strict=True) if not o.fallback]
    assert len(written) >= 3, [o.text for o in outs]  # the model writes most of them, not the template
    for out, req in written:
        words = out.text.split()
        assert out.generator == "tuned-local" and "{" not in out.text and out.text.endswith(".")
        assert 8 <= len(words) <= 45, out.text
        assert verifier.verify(out.text, req).passed, out.text
