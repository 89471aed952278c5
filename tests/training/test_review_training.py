"""train-reasoner --from-reviews on a tiny random Llama: reviewed winners join the training data, the change is scored."""

from __future__ import annotations

import json

import pytest

from genre.cli import main
from genre.components.reasoners.tuned import CARD_FILE
from genre.data.request_records import request_record
from genre.feedback.pairwise import Arm, Judgement
from genre.feedback.store import FeedbackStore
from genre.training.reasoner_data import ReferenceSet, template_pairs
from genre.training.review_eval import train_from_reviews
from tests.explain.test_tuning import SMALL, save_base, tiny_references, tiny_tokenizer
from tests.training.test_review_data import labelled_as

TINY_TOML = (
    'name = "tiny"\ndevice = "cpu"\n[data]\nloader = "jsonl"\npath = "{path}"\n'
    '[scorers.popularity]\ncomponent = "popularity"\n'
    '[fusion]\ncomponent = "weighted"\nconfig = {{ weights = {{ popularity = 1.0 }} }}\n'
)


def test_train_from_reviews_adds_faithful_winners_and_scores_the_held_out_change(cache, tiny_pipeline, tmp_path):
    save_base(tiny_tokenizer())
    config, catalog = tiny_pipeline.config, tiny_pipeline.catalog
    winner = Arm(generator="template", config_name=config.name)
    loser = Arm(generator="tuned-local", options={"style": "short"}, config_name=config.name)
    pairs = template_pairs(tiny_pipeline, 3, 2, 0)
    with FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite3'}") as store:
        for n, p in enumerate(pairs):
            store.save_judgement(
                Judgement.from_screen(
                    reviewer="Ann", item_id=p.request.item.item_id, subject=str(n), left_arm=loser, right_arm=winner,
                    left_reason="Worse.", right_reason=p.target, pick="right", faithful_right=True,
                    context=request_record(p.request),
                )
            )  # fmt: skip
        heldout = [labelled_as(pairs[0].request, config=config.name)]
        run = train_from_reviews(
            config, store, SMALL, out=tmp_path / "adapter", heldout_limit=3, repeat=2, pipeline=tiny_pipeline,
            labelled=heldout, references=[ReferenceSet("tiny", catalog, tiny_references(catalog))],
            before=tmp_path / "no-adapter-here",
        )  # fmt: skip
    assert run.reviews.judgements == len(pairs)
    held = sum(p.request.item.item_id == pairs[0].request.item.item_id and p.request.history == pairs[0].request.history
               for p in pairs)  # fmt: skip
    assert run.reviews.skipped["held-out labelled request"] == held >= 1
    assert len(run.reviews.pairs) == len(pairs) - held
    card = json.loads((tmp_path / "adapter" / CARD_FILE).read_text())
    kept = run.survival["review-pairwise:tiny"]["kept"]
    assert kept >= 1 and card["data"]["sources"]["review-pairwise:tiny"] == 2 * kept  # each used twice
    assert card["data"]["survival"]["review-pairwise:tiny"] == run.survival["review-pairwise:tiny"]
    review = card["review_training"]
    assert (
        review["heldout_requests"] == 1
        and review["slotted"] == kept
        and review["preference_pairs"] == len(run.reviews.pairs)
    )
    # No adapter to compare with: the base model alone (grounded) is the "before"; both wrote the held-out request.
    assert run.before is not None and run.before.label == "grounded (no adapter yet)" and run.before.reasons == 1
    assert run.after is not None and run.after.label.startswith("tuned-local retrained") and run.after.reasons == 1
    assert review["after"]["reasons"] == 1 and 0.0 <= review["after"]["passed"] <= 1.0
    assert len(review["after"]["texts"]) == 1 and review["after"]["texts"][0]  # kept for a person to label
    assert any("DPO step not run" in n for n in run.notes)


def test_cli_from_reviews_says_clearly_when_the_store_has_no_reviews(cache, tiny_catalog_file, tmp_path, capsys):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML.format(path=tiny_catalog_file))
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert main(["train-reasoner", "--config", str(config), "--from-reviews", "--store", url]) == 2
    err = capsys.readouterr().err
    assert "holds no reviews of config 'tiny'" in err and "rate reasons 4 or 5 and mark them faithful" in err
    assert main(["train-reasoner", "--config", str(config), "--store", url]) == 2
    assert "go with --from-reviews" in capsys.readouterr().err


@pytest.mark.parametrize("flag,value", [("--heldout-limit", "-1"), ("--review-repeat", "0")])
def test_cli_from_reviews_refuses_bad_numbers(cache, tiny_catalog_file, tmp_path, capsys, flag, value):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML.format(path=tiny_catalog_file))
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    assert main(["train-reasoner", "--config", str(config), "--from-reviews", "--store", url, flag, value]) == 2
    assert "invalid --heldout-limit" in capsys.readouterr().err


def test_cli_from_reviews_prints_what_the_reviews_gave_and_before_after(cache, tiny_catalog_file, tmp_path, capsys,
                                                                       monkeypatch):  # fmt: skip
    from genre.training import review_eval
    from genre.training.reasoner import TrainResult
    from genre.training.review_data import ReviewPairs

    card = {"steps": 1, "epochs": 0.1, "train_seconds": 1.0, "total_seconds": 2.0, "device": "cpu",
            "loss_curve": [[1, 2.0]], "held_out": None,
            "data": {"examples": 3, "sources": {"review-pairwise:tiny": 2}, "movielens": False, "survival": {}}}  # fmt: skip
    score = review_eval.HeldoutScore("before-adapter", 2, 0.5, 1.0, 0.5, 0.0, 0.5)
    seen = {}

    def fake(config, store, settings, **kw):
        seen.update(kw, store=store.where)
        after = review_eval.HeldoutScore("after-adapter", 2, 1.0, 1.0, 1.0, 0.0, 0.0)
        return review_eval.ReviewTraining(TrainResult(tmp_path, card), ReviewPairs(), {}, score, after, ["3 read"])

    monkeypatch.setattr(review_eval, "train_from_reviews", fake)
    config = tmp_path / "tiny.toml"
    config.write_text(TINY_TOML.format(path=tiny_catalog_file))
    args = ["train-reasoner", "--config", str(config), "--from-reviews", "--store", f"sqlite:///{tmp_path / 's.db'}"]
    assert main([*args, "--heldout-limit", "5", "--review-repeat", "3", "--before", str(tmp_path / "old")]) == 0
    assert (seen["heldout_limit"], seen["repeat"], seen["before"]) == (5, 3, tmp_path / "old")
    printed = capsys.readouterr().out
    assert "reviews: 3 read" in printed and "used 3 times" in printed
    assert "before: before-adapter: verified 50%" in printed and "after:  after-adapter: verified 100%" in printed
