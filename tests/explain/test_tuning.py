"""LoRA tuning of the reason generator, on a tiny randomly initialised Llama (random weights only here).

The tiny model stands in for SmolLM2: same architecture family, a byte-level BPE trained here on
the prompts, and SmolLM2's own ChatML chat template, saved where the prepared generator lives.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from genre.cli import main
from genre.components.reasoners.plan import fill, make_plan
from genre.components.reasoners.slotted import SYSTEM, messages
from genre.components.reasoners.tuned import (
    ADAPTER_WEIGHTS,
    CARD_FILE,
    SHIPPED_ADAPTERS,
    TunedLocalReasoner,
    base_fingerprint,
    load_tuned_generator,
    resolve_adapter,
)
from genre.config import parse_config
from genre.core.errors import ConfigError, ModelUnavailableError
from genre.core.paths import PROJECT_ROOT
from genre.data.references import ReferencePair
from genre.models import Generator, generator_cache_path
from genre.training.lora import ReasonTrainer, TuneSettings, lora_config
from genre.training.reasoner import train_reasoner
from genre.training.reasoner_data import ReferenceSet
from genre.training.slotted_data import SlottedPair, build_slotted_example
from tests.conftest import tiny_config_dict
from tests.explain.test_generators import env, three_requests

SMOL_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
TARGETS = [
    "Because you liked {hist1}, this is a safe bet: it shares {shared} with {hist2}.",
    "Since {why}, try this one next: it shares {shared} with {hist1}.",
    "If you enjoyed {hist1}, this should suit you, because {why}.",
]
SMALL = TuneSettings(
    steps=4, batch_size=2, lr=5e-3, warmup_steps=1, lora_r=4, lora_alpha=8, tune_layers=2, template_users=3,
    template_items=2, eval_pairs=2, checkpoint_every=2,
)  # fmt: skip


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    chats = [m["content"] for r in three_requests() for m in messages(make_plan(r))]
    corpus = [SYSTEM, *chats, *TARGETS] * 2
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=500, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )  # fmt: skip
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )  # fmt: skip
    tokenizer.chat_template = SMOL_TEMPLATE
    return tokenizer


def tiny_llama(tokenizer: PreTrainedTokenizerFast, seed: int = 0, layers: int = 4) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=layers,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        initializer_range=0.5,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


def save_base(tokenizer: PreTrainedTokenizerFast, seed: int = 0, layers: int = 4) -> Path:
    """Write a tiny model where the prepared generator lives (the test's own cache dir)."""
    target = generator_cache_path()
    target.mkdir(parents=True, exist_ok=True)
    tiny_llama(tokenizer, seed, layers).save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / "genre-converted.json").write_text(json.dumps({"name": "tiny-llama"}))
    return target


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return tiny_tokenizer()


@pytest.fixture
def base(cache, tokenizer) -> Path:
    return save_base(tokenizer)


def prompter(tokenizer, model=None, **config) -> TunedLocalReasoner:
    reasoner = TunedLocalReasoner(config)
    reasoner.generator = Generator(model=model, tokenizer=tokenizer, device="cpu", name="tiny")
    return reasoner


def pairs() -> list[SlottedPair]:
    out = []
    for req, target in zip(three_requests(), TARGETS, strict=True):
        plan = make_plan(req)
        out.append(SlottedPair(req, plan, target, fill(target, plan.slots()), "test", target))
    return out


def fresh_trainer(base: Path, tokenizer, settings: TuneSettings, checkpoint: Path) -> ReasonTrainer:
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    examples = [build_slotted_example(prompter(tokenizer), p) for p in pairs()]
    torch.manual_seed(settings.seed)
    peft_model = get_peft_model(model, lora_config(settings, model.config.num_hidden_layers))
    return ReasonTrainer(peft_model, examples, settings, "cpu", checkpoint, "data-key")


def lora_weights(trainer: ReasonTrainer) -> dict[str, torch.Tensor]:
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in get_peft_model_state_dict(trainer.model).items()}


def write_adapter(base: Path, tokenizer, target: Path, **lora) -> Path:
    """A valid (untrained) adapter directory for the tiny base, as train-reasoner writes it."""
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    settings = TuneSettings(tune_layers=2, lora_r=4, lora_alpha=8, **lora)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    get_peft_model(model, lora_config(settings, 4)).save_pretrained(target)
    card = {"format": 1, "base_model": {"name": "tiny-llama", "fingerprint": base_fingerprint(base)}}
    (target / CARD_FILE).write_text(json.dumps(card))
    return target


# ---- the trainer (the slotted examples themselves are tested in test_tuned_grounded.py) ------


def test_the_cut_model_reproduces_the_whole_models_logits_on_the_answer(base, tokenizer, tmp_path):
    trainer = fresh_trainer(base, tokenizer, SMALL, tmp_path / "ck")
    assert trainer.split is not None and len(trainer.split.top) == 2 and len(trainer.split.bottom) == 2
    ex = trainer.examples[1]
    logits, targets = trainer._answer_logits(1)
    assert targets.tolist() == ex.input_ids[ex.prompt_length :]
    with torch.no_grad():
        full = trainer.model(input_ids=torch.tensor([ex.input_ids])).logits[0, ex.prompt_length - 1 : -1]
    torch.testing.assert_close(logits.detach(), full, atol=1e-5, rtol=1e-5)


def test_training_lowers_the_loss_and_touches_only_the_top_layers(base, tokenizer, tmp_path):
    settings = SMALL.model_copy(update={"steps": 12, "batch_size": 3, "lr": 2e-2, "checkpoint_every": 100})
    trainer = fresh_trainer(base, tokenizer, settings, tmp_path / "ck")
    before = lora_weights(trainer)
    trainer.train()
    losses = [loss for _, loss in trainer.loss_curve]
    assert len(losses) == 12 and losses[-1] < 0.7 * losses[0]
    after = lora_weights(trainer)
    assert all("layers.2." in k or "layers.3." in k for k in after)
    assert any(not torch.equal(before[k], after[k]) for k in after)


# ---- checkpoints ----------------------------------------------------------------------------


def test_resume_continues_from_the_saved_step_exactly(base, tokenizer, tmp_path):
    straight = fresh_trainer(base, tokenizer, SMALL, tmp_path / "a")
    straight.train()

    interrupted = fresh_trainer(base, tokenizer, SMALL, tmp_path / "b")

    def stop(step: int, loss: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted.train(on_step=stop)
    state = json.loads((tmp_path / "b" / "trainer-state.json").read_text())
    assert state["step"] == 3  # saved on interrupt, though checkpoint_every is 2

    resumed = fresh_trainer(base, tokenizer, SMALL, tmp_path / "b")
    assert resumed.load_checkpoint() and resumed.step == 3 and resumed.resumed_from == 3
    resumed.train()
    assert resumed.step == 4
    assert [s for s, _ in resumed.loss_curve] == [1, 2, 3, 4]
    assert [v for _, v in resumed.loss_curve] == pytest.approx([v for _, v in straight.loss_curve], abs=1e-4)
    a, b = lora_weights(straight), lora_weights(resumed)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=1e-5)


def test_resume_refuses_a_checkpoint_of_other_settings(base, tokenizer, tmp_path):
    fresh_trainer(base, tokenizer, SMALL.model_copy(update={"steps": 2}), tmp_path / "ck").train()
    other = fresh_trainer(base, tokenizer, SMALL.model_copy(update={"lr": 1e-3}), tmp_path / "ck")
    with pytest.raises(ConfigError, match="other training data or settings"):
        other.load_checkpoint()
    # More steps than before is a continuation, not a change.
    longer = fresh_trainer(base, tokenizer, SMALL.model_copy(update={"steps": 3}), tmp_path / "ck")
    assert longer.load_checkpoint() and longer.step == 2


# ---- the whole command and its card ---------------------------------------------------------


def tiny_references(catalog) -> list[ReferencePair]:
    rows = [
        ("b", ["a"], ["Outdoor", "Northwind"], "Because you liked the Alpine Tent, this is a safe bet: it shares Outdoor with it."),
        ("c", ["a", "b"], ["Outdoor"], "After the Alpine Tent and the Summit Sleeping Bag, the Trail Stove completes your outdoor kit."),
        ("a", ["b"], ["Outdoor", "Northwind"], "The Summit Sleeping Bag needs a shelter, and this Northwind tent is made for the same trips."),
        ("e", ["d"], ["Kitchen", "Forge"], "If you enjoyed the Chef Knife, this should suit you, as it shares Kitchen with it."),
        ("d", ["e"], ["Kitchen"], "The Cast Iron Pan you liked pairs well with a sharp knife for your kitchen."),
        ("g", ["f"], ["Coffee", "Brewline"], "You liked the Pour Over Kettle, and this Brewline grinder makes the coffee fresher still."),
        ("f", ["g"], ["Coffee"], "With the Burr Grinder at home, a gooseneck kettle is the next step for pour over coffee."),
    ]  # fmt: skip
    intent = "Kitting out a first camping trip and a home kitchen."
    return [
        ReferencePair(
            id=f"tiny-{n}",
            domain="tiny",
            item_id=item,
            history=history,
            shared=shared,
            intent=intent,
            component="content",
            reasons=[reason],
        )
        for n, (item, history, shared, reason) in enumerate(rows)
    ]


def test_train_reasoner_writes_adapter_and_card_and_the_generator_loads_it(base, tokenizer, tiny_pipeline, tmp_path):
    catalog = tiny_pipeline.catalog
    out = tmp_path / "adapters" / "tiny"
    result = train_reasoner(
        tiny_pipeline.config,
        SMALL,
        out=out,
        pipeline=tiny_pipeline,
        references=[ReferenceSet("tiny", catalog, tiny_references(catalog))],
    )
    assert result.out == out
    assert {p.name for p in out.iterdir()} >= {"adapter_config.json", ADAPTER_WEIGHTS, CARD_FILE, "checkpoint"}
    card = json.loads((out / CARD_FILE).read_text())
    assert card == result.card
    assert card["base_model"]["fingerprint"] == base_fingerprint(base) and card["base_model"]["path"] == str(base)
    assert card["steps"] == 4 and card["lr"] == SMALL.lr and card["batch_size"] == 2
    assert card["lora"]["r"] == 4 and card["lora"]["alpha"] == 8 and card["lora"]["layers"] == [2, 3]
    assert card["lora"]["target_modules"] == list(SMALL.target_modules)
    assert [s for s, _ in card["loss_curve"]] == [1, 2, 3, 4] and all(v > 0 for _, v in card["loss_curve"])
    sources, survival = card["data"]["sources"], card["data"]["survival"]
    # Delexicalised references: one reads with slots only; the others keep a word no slot holds.
    assert survival["reference:tiny"] == {"kept": 1, "slot problem": 5}
    # "{n} people who rated {h} also rated this" says "rated" twice outside its slots (and holds a figure).
    assert survival["template:tiny"] == {
        "kept": 8,
        "slot problem": 6,
        "form: states no fact of the plan": 3,
        "duplicate": 1,
    }
    # Composed sentences that name titles and no link between them are dropped by the verifier; the one-line
    # examples are as before the styles, and every style has its points (styled templates and rewordings).
    assert sources["reference:tiny"] == 1 and sources["template:tiny"] == 8 and sources["styled:tiny"] > 0
    assert card["styles"] == ["one-line", "short", "bullets", "compare"]
    per_style = card["data"]["style_examples"]
    assert per_style["one-line"] == 47 and all(per_style[s] > 0 for s in ("short", "bullets", "compare"))
    assert len(card["data"]["hash"]) == 16 and card["data"]["examples"] == sum(per_style.values())
    assert card["data"]["movielens"] is False and card["redistributable"] is True
    assert card["prompt"] == {
        "kind": "slotted",
        "system_prompt_sha": card["prompt"]["system_prompt_sha"],
        "point_system_sha": card["prompt"]["point_system_sha"],
        "prefill": False,
        "shots": False,
        "vocabulary": "connecting",
    }
    assert card["device"] == "cpu" and card["train_seconds"] > 0 and card["cached_bottom_layers"] is True
    held = card["held_out"]
    assert held["pairs"] == 1 and held["reasons"] == 1
    for key in (
        "passed",
        "invented",
        "wrong_title",
        "evidence_coverage",
        "bleu4",
        "rouge_l",
        "distinct_2",
        "tokens_per_second",
    ):
        assert key in held

    # tuned-local loads it merged and runs the grounded path on it: slots filled or the template shown.
    reasoner = TunedLocalReasoner({"adapter_path": str(out), "max_new_tokens": 8, "candidates": 2})
    reasoner.prepare(env())
    assert reasoner.generator.name.endswith("+tiny")
    outs = reasoner(three_requests()).reasons
    assert len(outs) == 3 and all(o.text and "{" not in o.text for o in outs)
    assert all(o.fallback is (o.generator == "template") for o in outs)


def test_movielens_adapters_may_not_be_written_into_the_repository(cache, tiny_catalog_file):
    config = parse_config(tiny_config_dict(tiny_catalog_file, data={"loader": "movielens-100k"}))
    with pytest.raises(ConfigError, match="MovieLens"):
        train_reasoner(config, SMALL, out=PROJECT_ROOT / "adapters-test")
    assert not (PROJECT_ROOT / "adapters-test").exists()


def test_cli_reports_a_malformed_reference_row_with_its_line(cache, tiny_catalog_file, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.jsonl"
    good = {"id": "p-1", "domain": "products", "item_id": "prod-002", "history": ["prod-001"], "shared": [],
            "intent": "A first tent.", "component": "content",
            "reasons": ["Because you liked the tent, this groundsheet protects its floor on rocky ground."]}  # fmt: skip
    broken = {k: v for k, v in good.items() if k != "intent"} | {"id": "p-2"}
    bad.write_text(json.dumps(good) + "\n" + json.dumps(broken) + "\n")
    monkeypatch.setattr("genre.training.reasoner_data.reference_path", lambda domain: bad)
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'name = "tiny"\ndevice = "cpu"\n[data]\nloader = "jsonl"\npath = "{tiny_catalog_file}"\n'
        '[scorers.popularity]\ncomponent = "popularity"\n'
        '[fusion]\ncomponent = "weighted"\nconfig = { weights = { popularity = 1.0 } }\n'
    )
    assert main(["train-reasoner", "--config", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.jsonl line 2: missing field 'intent'" in err
    assert main(["train-reasoner", "--config", str(config), "--steps", "0"]) == 2
    assert "invalid steps" in capsys.readouterr().err
    assert main(["train-reasoner", "--config", str(config), "--threads", "0"]) == 2
    assert "invalid threads: 0" in capsys.readouterr().err


# ---- a bad adapter is a clear error naming its file ----------------------------------------


def test_adapter_path_is_a_directory_or_a_name_in_the_cache(cache):
    assert resolve_adapter("nothing-here") == cache / "adapters" / "nothing-here"
    # The project-data adapter ships in assets/ until one is trained into the cache.
    assert resolve_adapter("grounded") == SHIPPED_ADAPTERS / "grounded"
    (cache / "adapters" / "grounded").mkdir(parents=True)
    assert resolve_adapter("grounded") == cache / "adapters" / "grounded"
    assert resolve_adapter("./mine") == Path("./mine")
    assert resolve_adapter("~/a/b") == Path.home() / "a" / "b"


def test_missing_adapter_is_reported_at_prepare_naming_the_directory(base, cache):
    reasoner = TunedLocalReasoner({"adapter_path": "nowhere"})
    with pytest.raises(ModelUnavailableError, match=r"adapters/nowhere does not exist.*train-reasoner"):
        reasoner.prepare(env())


def test_a_valid_adapter_loads_merged_into_a_copy_of_the_base(base, tokenizer, tmp_path):
    adapter = write_adapter(base, tokenizer, tmp_path / "ok")
    gen = load_tuned_generator("cpu", adapter)
    assert gen.name.endswith("+ok") and gen.device == "cpu"
    assert not any("lora" in name for name, _ in gen.model.named_parameters())  # merged
    assert load_tuned_generator("cpu", adapter) is gen  # memoized per adapter version


@pytest.mark.parametrize(
    ("damage", "file", "message"),
    [
        (lambda d: (d / CARD_FILE).unlink(), CARD_FILE, "not found"),
        (lambda d: (d / CARD_FILE).write_text("{not json"), CARD_FILE, "not valid JSON"),
        (lambda d: (d / ADAPTER_WEIGHTS).write_bytes((d / ADAPTER_WEIGHTS).read_bytes()[:100]), ADAPTER_WEIGHTS, "cannot be read"),
        (lambda d: (d / "adapter_config.json").write_text("[1, 2"), "adapter_config.json", "not a valid LoRA config"),
    ],
    ids=["no-card", "corrupt-card", "truncated-weights", "corrupt-config"],
)  # fmt: skip
def test_corrupt_adapter_files_are_named(base, tokenizer, tmp_path, damage, file, message):
    adapter = write_adapter(base, tokenizer, tmp_path / "bad")
    damage(adapter)
    with pytest.raises(ModelUnavailableError, match=message) as info:
        load_tuned_generator("cpu", adapter)
    assert str(adapter / file) in str(info.value)


def test_adapter_of_another_base_model_is_refused(base, tokenizer, tmp_path):
    adapter = write_adapter(base, tokenizer, tmp_path / "other")
    save_base(tokenizer, seed=1)  # the prepared generator changed since the adapter was trained
    with pytest.raises(ModelUnavailableError, match="trained on base model tiny-llama") as info:
        load_tuned_generator("cpu", adapter)
    assert str(adapter / CARD_FILE) in str(info.value)


def test_adapter_with_wrong_shapes_is_refused(base, tokenizer, tmp_path):
    adapter = write_adapter(base, tokenizer, tmp_path / "shapes")
    weights = load_file(adapter / ADAPTER_WEIGHTS)
    key = next(k for k in weights if "lora_A" in k)
    weights[key] = torch.zeros(weights[key].shape[0], weights[key].shape[1] + 3)
    save_file(weights, adapter / ADAPTER_WEIGHTS)
    with pytest.raises(
        ModelUnavailableError, match=r"does not fit the base model: tensor .*lora_A.* has shape"
    ) as info:
        load_tuned_generator("cpu", adapter)
    assert str(adapter / ADAPTER_WEIGHTS) in str(info.value)


def test_adapter_for_modules_the_base_lacks_is_refused(base, tokenizer, tmp_path):
    adapter = write_adapter(base, tokenizer, tmp_path / "modules")
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["target_modules"] = ["c_attn"]  # a GPT-2 module name
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelUnavailableError, match="does not fit the base model") as info:
        load_tuned_generator("cpu", adapter)
    assert str(adapter / "adapter_config.json") in str(info.value)


def test_pipeline_with_a_missing_adapter_fails_at_build_naming_it(base, tiny_catalog_file):
    from genre.pipeline import Pipeline
    from tests.conftest import HashEmbedder

    cfg = tiny_config_dict(tiny_catalog_file, explain={"component": "tuned-local", "config": {"adapter_path": "gone"}})
    with pytest.raises(ModelUnavailableError, match="adapters/gone does not exist"):
        Pipeline(parse_config(cfg), embedder_factory=lambda device: HashEmbedder())


def test_shipped_adapters_are_trained_on_project_data_only():
    # MovieLens' license forbids redistributing anything trained on it; only project-data adapters ship.
    shipped = sorted(SHIPPED_ADAPTERS.iterdir())
    assert shipped
    for directory in shipped:
        card = json.loads((directory / CARD_FILE).read_text())
        assert card["redistributable"] is True and card["data"]["movielens"] is False, directory
        assert not any("movielens" in source for source in card["data"]["sources"]), directory
        assert (directory / "adapter_model.safetensors").stat().st_size < 10 * 2**20
