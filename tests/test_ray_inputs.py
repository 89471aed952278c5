"""What a sharded job checks before Ray starts: users files, unknown users, shard plans, the CLI's bad input."""

from __future__ import annotations

import json
import socket

import pytest

from genre.cli import main
from genre.core.errors import ConfigError, InputError, ShardError
from genre.pipeline.batch import check_user_ids, read_user_ids
from genre.pipeline.shards import (
    FAULT_ENV,
    RayOptions,
    fault_from_env,
    plan_shards,
    ray_session,
    require_artifacts,
)
from tests.conftest import TINY_EVENTS


def test_users_file_one_per_line_or_json_list(tmp_path):
    lines = tmp_path / "users.txt"
    lines.write_text("# people to explain\n12\n\n 7 \n3\n")
    assert read_user_ids(lines) == ["12", "7", "3"]
    listed = tmp_path / "users.json"
    listed.write_text(json.dumps([12, "7", 3]))
    assert read_user_ids(listed) == ["12", "7", "3"]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "holds no user ids"),
        ("[1, 2", "not valid JSON"),
        ('{"users": [1]}', "must be a list of ids"),
        ("[1, true]", "must be a list of ids"),
        ("4\n5\n4\n", "more than once: 4"),
    ],
)
def test_bad_users_files_are_named(tmp_path, text, fragment):
    path = tmp_path / "users.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=fragment):
        read_user_ids(path)


def test_unknown_users_are_all_named(tiny_cf_env):
    catalog = tiny_cf_env.catalog
    check_user_ids(catalog, {}, ["u1", "u6"])
    with pytest.raises(InputError, match=r"2 user ids are not in tiny-cf .*: 'nobody', 'u9'"):
        check_user_ids(catalog, {}, ["u1", "nobody", "u9"])


def test_shards_are_contiguous_and_even():
    users = [f"u{i}" for i in range(10)]
    shards = plan_shards(users, 4)
    assert [(s.start, s.stop) for s in shards] == [(0, 3), (3, 6), (6, 8), (8, 10)]
    assert shards[2].describe() == "shard 3 of 4 (users 7-8 of the job, 'u6' to 'u7')"
    assert len(plan_shards(users[:2], 8)) == 2  # never an empty shard
    with pytest.raises(ConfigError, match="positive"):
        RayOptions(shards=0)


def test_fault_hook_format(monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "2")
    with pytest.raises(ConfigError, match="SHARD:TIMES"):
        fault_from_env()
    monkeypatch.setenv(FAULT_ENV, "2:3")
    plan = fault_from_env()
    assert plan is not None and (plan.shard, plan.times) == (2, 3)


def test_a_worker_that_cannot_see_the_trained_state_refuses_to_train(tmp_path, cache):
    trained = tmp_path / "bpr"
    trained.mkdir()
    (trained / "manifest.json").write_text("{}")
    require_artifacts({"scorers.bpr": str(trained)})
    with pytest.raises(ShardError, match=r"cannot see the trained state of scorers\.ease .*shared storage"):
        require_artifacts({"scorers.bpr": str(trained), "scorers.ease": str(tmp_path / "ease")})


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--shards", "2"], "--shards only applies with --ray"),
        (["--ray", "--shards", "0"], "--shards must be a positive number"),
        (["--k", "0"], "--k must be a positive number"),
    ],
)
def test_batch_explain_bad_flags_exit_2(tmp_path, capsys, args, fragment):
    users = tmp_path / "users.txt"
    users.write_text("1\n")
    argv = ["batch-explain", "--config", "configs/movies.toml", "--users", str(users), "--out", str(tmp_path / "o")]
    assert main([*argv, *args]) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_batch_explain_unknown_users_exit_2_naming_them(tmp_path, capsys, tiny_catalog_file, cache):
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,timestamp\n" + "".join(f"{u},{i},{n}\n" for n, (u, i) in enumerate(TINY_EVENTS)))
    config = tmp_path / "tiny.toml"
    config.write_text(
        f'name = "tiny"\n[data]\nloader = "jsonl"\npath = "{tiny_catalog_file}"\ninteractions = "{log}"\n'
        '[scorers.popularity]\ncomponent = "popularity"\n'
    )
    users = tmp_path / "users.txt"
    users.write_text("u1\nghost\n")
    argv = ["batch-explain", "--config", str(config), "--users", str(users), "--out", str(tmp_path / "out.jsonl")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "1 user ids are not in tiny" in err and "'ghost'" in err and "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_ray_address_where_nothing_listens_fails_at_once():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    expected = rf"nothing answers at the Ray address 'ray://127.0.0.1:{port}'"
    with pytest.raises(ShardError, match=expected), ray_session(RayOptions(address=f"ray://127.0.0.1:{port}")):
        pass


def test_evaluate_rejects_ray_with_explanations(capsys):
    assert main(["evaluate", "--config", "configs/movies.toml", "--explanations", "--ray"]) == 2
    assert "--explanations runs in one process" in capsys.readouterr().err
