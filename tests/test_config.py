import subprocess
import sys
from pathlib import Path

import pytest

from genre.config import load_config, parse_config, save_config
from genre.core.errors import ConfigError
from tests.conftest import ROOT, tiny_config_dict


@pytest.mark.parametrize("name", ["movies", "movies-intent", "products", "news"])
def test_shipped_configs_validate(name):
    cfg = load_config(ROOT / "configs" / f"{name}.toml")
    assert cfg.name == name
    assert {"popularity", "content"} <= set(cfg.scorers)


def test_round_trip_through_toml(tmp_path, tiny_catalog_file):
    cfg = parse_config(tiny_config_dict(tiny_catalog_file))
    path = save_config(cfg, tmp_path / "saved.toml")
    assert load_config(path) == cfg


def _err(tmp_path: Path, text: str) -> str:
    p = tmp_path / "c.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(p)
    return str(exc.value)


BASE = """
name = "x"
[data]
loader = "movielens-100k"
[scorers.pop]
component = "popularity"
"""


def test_unknown_top_level_key_lists_valid_keys(tmp_path):
    msg = _err(tmp_path, "nmae = 'x'\n" + BASE)
    assert "unknown key 'nmae'" in msg and "valid keys: name, description" in msg


def test_unknown_component_lists_builtins(tmp_path):
    msg = _err(tmp_path, BASE + "[scorers.x]\ncomponent = 'magic'\n")
    assert "unknown scorers component 'magic'" in msg and "bpr, content, ease, intent-match, itemknn" in msg


def test_unknown_component_option_lists_valid_options(tmp_path):
    msg = _err(tmp_path, BASE + "config = { cuont_label = 'r' }\n")
    assert "[scorers.pop.config] unknown key 'cuont_label'; valid keys: half_life_days, count_label" in msg


def test_out_of_range_parameter_names_field(tmp_path):
    msg = _err(tmp_path, BASE + "[context]\ncomponent = 'recency'\nconfig = { half_life_days = -3 }\n")
    assert "[context.config] 'half_life_days'" in msg and "greater than 0" in msg


def test_fusion_weight_for_missing_scorer(tmp_path):
    msg = _err(tmp_path, BASE + "[fusion]\ncomponent = 'weighted'\nconfig = { weights = { content = 1.0 } }\n")
    assert "refers to scorers not in this pipeline: content" in msg


def test_malformed_toml(tmp_path):
    assert "malformed TOML" in _err(tmp_path, "name = \n")


def test_missing_file():
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("nope/missing.toml")


def test_data_section_checks(tmp_path):
    msg = _err(tmp_path, "name='x'\n[data]\nloader='jsonl'\n[scorers.p]\ncomponent='popularity'\n")
    assert "[data]" in msg and "needs `path`" in msg
    msg = _err(tmp_path, "name='x'\n[data]\nloader='csv'\n[scorers.p]\ncomponent='popularity'\n")
    assert "'loader'" in msg and "movielens-100k" in msg


def test_custom_component_by_import_path(tiny_catalog_file):
    d = tiny_config_dict(tiny_catalog_file)
    d["scorers"]["mine"] = {"component": "genre.components.scorers.popularity:PopularityScorer"}
    assert "mine" in parse_config(d).scorers
    d["scorers"]["bad"] = {"component": "genre.components.fusion:WeightedFusion"}
    with pytest.raises(ConfigError, match="not a Scorer subclass"):
        parse_config(d)


# Configs whose every component validates without torch (sasrec's module defines torch networks, so
# movies.toml and movies-weighted.toml load torch when validated).
TORCH_FREE_CONFIGS = ["products", "news", "movies-intent"]


def test_importing_genre_its_types_and_config_loads_no_torch():
    code = (
        "import sys, genre, genre.core.types, genre.config\n"
        "for path in sys.argv[1:]:\n"
        "    genre.config.load_config(path)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    paths = [str(ROOT / "configs" / f"{name}.toml") for name in TORCH_FREE_CONFIGS]
    out = subprocess.run([sys.executable, "-c", code, *paths], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_with_generator_options_are_validated_and_kept() -> None:
    from genre.config import with_generator

    base = load_config(Path("configs/movies.toml"))
    tuned = with_generator(base, "grounded", options={"candidates": 2})
    assert tuned.explain.component == "grounded"
    assert tuned.explain.config == {"candidates": 2}
    # Same generator, no options: the config's own options stay.
    assert with_generator(tuned, "grounded") is tuned
    with pytest.raises(ConfigError, match=r"unknown key 'bogus'.*valid keys: .*candidates"):
        with_generator(base, "grounded", options={"bogus": 1})
