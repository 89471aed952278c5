"""API keys held as digests, the token bucket, and the settings that refuse to start without auth."""

from __future__ import annotations

import pytest

from genre.core.errors import ConfigError
from genre.serve.security import ApiKeys, RateLimiter, retry_after
from genre.serve.settings import ENV_KEYS, ENV_KEYS_FILE, ServiceSettings, hash_key, key_hashes_from_env

KEY = "k" * 20


def test_keys_are_held_as_digests_and_matched_by_bearer_header():
    keys = ApiKeys((hash_key(KEY),))
    assert KEY not in repr(keys.__dict__)
    assert keys.identify(f"Bearer {KEY}") == hash_key(KEY)[:12]
    assert keys.identify(f"bearer {KEY}") == hash_key(KEY)[:12]
    for bad in (None, "", KEY, f"Basic {KEY}", "Bearer ", f"Bearer {KEY}x", f"Bearer {KEY[:-1]}"):
        assert keys.identify(bad) is None


def test_keys_from_env_list_and_file(tmp_path):
    other = "o" * 24
    path = tmp_path / "keys.txt"
    path.write_text(f"# service keys\n{other}\n\n{KEY}\n")
    hashes = key_hashes_from_env({ENV_KEYS: f" {KEY} , ", ENV_KEYS_FILE: str(path)})
    assert hashes == (hash_key(KEY), hash_key(other))  # deduplicated, in order
    assert key_hashes_from_env({}) == ()


def test_short_keys_and_unreadable_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        key_hashes_from_env({ENV_KEYS: "short"})
    with pytest.raises(ConfigError, match="cannot read the key file"):
        key_hashes_from_env({ENV_KEYS_FILE: str(tmp_path / "missing.txt")})


def test_settings_refuse_to_start_without_keys_unless_told(tmp_path):
    with pytest.raises(ConfigError, match=r"no API keys configured.*--insecure-no-auth"):
        ServiceSettings(configs_dir=tmp_path)
    assert ServiceSettings(configs_dir=tmp_path, insecure_no_auth=True).api_key_hashes == ()
    with pytest.raises(ConfigError, match="SHA-256"):
        ServiceSettings(configs_dir=tmp_path, api_key_hashes=(KEY,))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_a_burst_then_the_rate():
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a") == pytest.approx(0.5)  # one token comes back every 0.5 s
    assert limiter.take("b") == 0.0  # buckets are per caller
    clock.now += 0.5
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0
    clock.now += 100
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]  # refills up to the burst, no further
    assert limiter.take("a") > 0
    assert retry_after(0.01) == "1" and retry_after(2.2) == "3"


def test_token_bucket_forgets_the_least_recent_callers_beyond_its_bound():
    limiter = RateLimiter(rate_per_s=1.0, burst=1, max_callers=2, clock=Clock())
    for caller in ("a", "b", "c"):
        limiter.take(caller)
    assert set(limiter._buckets) == {"b", "c"}
