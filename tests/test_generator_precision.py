"""Generator precision: which precision a config and a device allow, int8 weights, and the trace's record of it."""

from __future__ import annotations

import json

import pytest
import torch

from genre.components.env import Env
from genre.config import parse_config
from genre.core.errors import ConfigError
from genre.core.types import RunTrace
from genre.models import load_generator, resolve_precision
from genre.quantize import DEQUANTIZE_ROWS, Int8Linear, count_int8_linears, quantize_int8
from tests.conftest import HashEmbedder, tiny_config_dict
from tests.explain.test_attention import tiny_gpt2_on

CHAT = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}assistant:"
CORPUS = ["user: Why this tent? assistant: It is light and it packs small for long trips."] * 4


# ---- config: a precision the device cannot run fails at load, naming the valid ones ------------


@pytest.mark.parametrize(
    ("device", "precision", "valid"),
    [
        ("cpu", "bf16", "auto, fp32, int8"),
        ("cpu", "fp16", "auto, fp32, int8"),
        ("cuda", "int8", "auto, fp32, bf16, fp16"),
    ],
)
def test_a_precision_the_device_cannot_run_fails_at_config_load(tiny_catalog_file, device, precision, valid):
    with pytest.raises(ConfigError) as err:
        parse_config(tiny_config_dict(tiny_catalog_file, device=device, precision=precision))
    message = str(err.value)
    assert f"precision = {precision!r}" in message and f"device = {device!r}" in message and valid in message


def test_an_unknown_precision_names_every_choice(tiny_catalog_file):
    with pytest.raises(ConfigError) as err:
        parse_config(tiny_config_dict(tiny_catalog_file, precision="int4"))
    assert "'int4'" in str(err.value) and all(p in str(err.value) for p in ("auto", "fp32", "int8", "bf16", "fp16"))


@pytest.mark.parametrize(
    ("device", "precision"), [("cpu", "int8"), ("cpu", "fp32"), ("cuda", "bf16"), ("auto", "int8")]
)
def test_fitting_pairs_load(tiny_catalog_file, device, precision):
    config = parse_config(tiny_config_dict(tiny_catalog_file, device=device, precision=precision))
    assert config.precision == precision
    assert parse_config(tiny_config_dict(tiny_catalog_file)).precision == "auto"


# ---- the choice on a resolved device -----------------------------------------------------------


def test_auto_is_int8_on_cpu_and_bf16_on_cuda_or_fp16_without_bf16():
    assert resolve_precision("auto", "cpu") == "int8"
    assert resolve_precision("auto", "cuda") == "bf16"
    assert resolve_precision("auto", "cuda", bf16_supported=False) == "fp16"
    assert [resolve_precision(p, "cpu") for p in ("fp32", "int8")] == ["fp32", "int8"]
    assert [resolve_precision(p, "cuda") for p in ("fp32", "bf16", "fp16")] == ["fp32", "bf16", "fp16"]


@pytest.mark.parametrize(("precision", "device"), [("int8", "cuda"), ("bf16", "cpu"), ("fp16", "cpu")])
def test_an_explicit_precision_on_the_wrong_resolved_device_is_a_config_error(precision, device):
    # device = "auto" passes config load; the pairing is checked once the device is known.
    with pytest.raises(ConfigError, match=f"precision = '{precision}' cannot run on device '{device}'.*valid"):
        resolve_precision(precision, device)


def test_bf16_on_a_gpu_without_it_names_fp16():
    with pytest.raises(ConfigError, match="fp16"):
        resolve_precision("bf16", "cuda", bf16_supported=False)


def test_a_pipeline_whose_auto_device_cannot_run_its_precision_fails_at_build(tiny_catalog_file, cache):
    from genre.pipeline import Pipeline

    if torch.cuda.is_available():
        pytest.skip("device auto resolves to cuda here")
    config = parse_config(tiny_config_dict(tiny_catalog_file, device="auto", precision="bf16"))
    with pytest.raises(ConfigError, match="precision = 'bf16' cannot run on device 'cpu'"):
        Pipeline(config)


# ---- int8 weights ------------------------------------------------------------------------------


def test_int8_linear_matches_the_fp32_layer_closely():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 48)
    q = Int8Linear(linear.weight, linear.bias)
    x = torch.randn(3, 5, 64)
    assert q.qweight.dtype == torch.int8 and q(x).shape == (3, 5, 48)
    error = (q(x) - linear(x)).abs().max() / linear(x).abs().max()
    assert 0 < error < 0.03  # rounded (not the same weights), but close


def test_a_long_prefill_takes_the_dequantized_path_with_the_same_result():
    torch.manual_seed(1)
    linear = torch.nn.Linear(64, 48)
    q = Int8Linear(linear.weight, linear.bias)
    rows = torch.randn(DEQUANTIZE_ROWS + 44, 64)
    long = q(rows)  # one call: the dequantized bf16 product
    short = torch.cat([q(rows[i : i + 10]) for i in range(0, rows.shape[0], 10)])  # the int8 kernel
    assert long.shape == short.shape == (DEQUANTIZE_ROWS + 44, 48)
    assert (long - short).abs().max() / short.abs().max() < 0.01
    assert (long - linear(rows)).abs().max() / linear(rows).abs().max() < 0.03


def test_quantize_replaces_every_linear_but_the_output_head():
    gen = tiny_gpt2_on(CORPUS)
    model = quantize_int8(gen.model)
    # GPT-2's attention and MLP layers are Conv1D: 4 per block, 2 blocks; lm_head stays fp32.
    assert count_int8_linears(model) == 8
    assert isinstance(model.lm_head, torch.nn.Linear) and model.lm_head.weight.dtype == torch.float32
    assert all(p.dtype != torch.float32 for n, p in model.named_buffers() if n.endswith("qweight"))


def test_load_generator_int8_has_int8_layers_and_writes_text(tmp_path):
    gen = tiny_gpt2_on(CORPUS)
    gen.tokenizer.chat_template = CHAT
    gen.model.save_pretrained(tmp_path)
    gen.tokenizer.save_pretrained(tmp_path)
    int8 = load_generator("cpu", tmp_path, precision="int8")
    fp32 = load_generator("cpu", tmp_path, precision="fp32")
    assert int8 is not fp32 and int8.precision == "int8" and fp32.precision == "fp32"
    assert count_int8_linears(int8.model) == 8 and count_int8_linears(fp32.model) == 0
    assert load_generator("cpu", tmp_path, precision="auto") is int8  # auto is int8 on CPU, memoized
    texts = int8.generate(["Why this tent?"], max_new_tokens=6)
    assert len(texts) == 1 and texts[0].strip()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_on_cuda_loads_bf16_weights(tmp_path):
    gen = tiny_gpt2_on(CORPUS)
    gen.tokenizer.chat_template = CHAT
    gen.model.save_pretrained(tmp_path)
    gen.tokenizer.save_pretrained(tmp_path)
    loaded = load_generator("cuda", tmp_path)
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    assert loaded.model.dtype == expected and loaded.precision in ("bf16", "fp16")
    assert load_generator("cuda", tmp_path, precision="fp16").model.dtype == torch.float16
    assert loaded.generate(["Why this tent?"], max_new_tokens=4)[0] is not None


# ---- the trace records the precision actually used ---------------------------------------------


@pytest.fixture
def tiny_pipeline_with(tiny_catalog_file, cache):
    from genre.pipeline import Pipeline

    def make(**overrides):
        return Pipeline(parse_config(tiny_config_dict(tiny_catalog_file, **overrides)), lambda d: HashEmbedder())

    return make


def test_env_notes_the_precision_a_component_loads_its_generator_at(tiny_catalog):
    env = Env(tiny_catalog, "cpu", precision="fp32")
    assert env.generator_precision is None
    assert env.precision_for_generator() == "fp32" and env.generator_precision == "fp32"
    assert Env(tiny_catalog, "cpu").precision_for_generator() == "int8"


@pytest.mark.parametrize(("precision", "expected"), [("auto", "int8"), ("fp32", "fp32")])
def test_the_trace_records_the_local_generators_precision(tiny_pipeline_with, monkeypatch, precision, expected):
    gen = tiny_gpt2_on(CORPUS)
    asked: list[str] = []

    def fake_load(device, path=None, precision="auto"):
        asked.append(precision)
        return gen

    monkeypatch.setattr("genre.components.reasoners.local.load_generator", fake_load)
    pipe = tiny_pipeline_with(precision=precision, explain={"component": "local-llm", "config": {"attention": False}})
    trace = pipe.run(_user(pipe))
    assert asked == [expected] and trace.precision == expected
    assert trace.device_label() == f"cpu · {expected}"
    assert RunTrace.model_validate_json(trace.to_json()).precision == expected


def test_a_template_pipeline_records_no_precision(tiny_pipeline_with):
    pipe = tiny_pipeline_with()
    trace = pipe.run(_user(pipe))
    assert trace.precision is None and trace.device_label() == "cpu"


def test_a_trace_from_before_precision_was_recorded_still_loads(tiny_pipeline_with):
    pipe = tiny_pipeline_with()
    old = json.loads(pipe.run(_user(pipe)).to_json())
    del old["precision"]
    assert RunTrace.model_validate(old).precision is None


def _user(pipe):
    from genre.core.types import HistoryEvent, UserContext

    return UserContext(history=[HistoryEvent(item_id=pipe.catalog.items[0].item_id)])
