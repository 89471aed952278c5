"""Reasons from an OpenAI-compatible chat server (vLLM, Ollama, llama.cpp): ``openai-compatible``.

Each request is one chat completion of the evidence-only prompt
(:func:`~genre.components.reasoners.prompts.build_prompt`) at temperature 0, several in flight at
once. A request the server fails (timeout, refused connection, HTTP error, malformed reply) gets
the template reason, and the call's notices say what went wrong and for how many items. Once the
server is known to be down, the rest of the batch skips it instead of each waiting out its timeout.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from pydantic import Field, field_validator

from genre.components.env import Env
from genre.components.reasoners.generated import GeneratedReasoner
from genre.components.reasoners.prompts import build_prompt, system_prompt
from genre.components.reasoners.styles import StyleOptions
from genre.core.component import ComponentConfig, ReasonBatch
from genre.core.errors import ConfigError
from genre.core.types import ReasonOut, ReasonRequest

__all__ = ["OpenAICompatibleConfig", "OpenAICompatibleReasoner"]


class OpenAICompatibleConfig(StyleOptions):
    GENERATOR = "openai-compatible"

    base_url: str = "http://127.0.0.1:8000/v1"
    """Server root up to and including the API version, e.g. http://127.0.0.1:11434/v1 for Ollama."""
    model: str = Field(min_length=1)
    """Model name the server knows (vLLM: the served model; Ollama: e.g. llama3.2:3b)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; the key itself never goes in a config."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Seconds to wait on the server per request before showing the template reason instead."""
    max_tokens: int = Field(default=64, ge=8, le=1024)
    """Most tokens the server may write per reason (styles other than one-line get at least 1.6 per word of
    their length bound)."""
    max_evidence: int = Field(default=3, ge=1, le=5)
    """How many history titles the prompt lists at most."""
    max_workers: int = Field(default=4, ge=1, le=32)
    """Requests in flight at once for one batch."""

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        # urllib would also open file:// and ftp:// URLs; a config must not turn into a file read.
        parsed = urllib.parse.urlparse(v.strip())
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(f"base_url must be an http:// or https:// URL. Got {v!r}")
        return v.strip().rstrip("/")


# A chat completion for one sentence is a few hundred bytes; a server sending more is not one.
_MAX_REPLY_BYTES = 1 << 20


class _EndpointFailure(Exception):
    """A request that produced no text; ``what`` is the notice's middle part, ``systemic`` stops the batch."""

    def __init__(self, what: str, systemic: bool) -> None:
        super().__init__(what)
        self.what = what
        self.systemic = systemic


def _is_loopback(url: str) -> bool:
    host = urllib.parse.urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class OpenAICompatibleReasoner(GeneratedReasoner):
    """Reasons from an OpenAI-compatible chat server (vLLM, Ollama, llama.cpp); template reasons if it fails."""

    Config = OpenAICompatibleConfig
    config: OpenAICompatibleConfig
    name = "openai-compatible"

    def __init__(self, config: ComponentConfig | dict[str, Any] | None = None) -> None:
        super().__init__(config)
        self.url = f"{self.config.base_url}/chat/completions"
        # A server on this machine is never behind the user's HTTP proxy; remote ones keep proxy settings.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(self.url) else []
        self._opener = urllib.request.build_opener(*handlers)

    def prepare(self, env: Env) -> None:
        super().prepare(env)
        self._api_key()  # a missing key is a config problem: report it now, not per request

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if not name:
            return None
        key = os.environ.get(name)
        if not key:
            raise ConfigError(
                f"openai-compatible: api_key_env names {name!r}, but that environment variable is not set"
            )
        return key

    def __call__(self, requests: list[ReasonRequest], *, seed: int | None = None) -> ReasonBatch:
        """Reasons for all requests, several in flight at once; the template's where the server fails.

        Decoding is greedy (temperature 0), so ``seed`` changes nothing.
        """
        outs: list[ReasonOut | None] = [None] * len(requests)
        notices: list[str] = []
        for index, out in self._run(requests, notices):
            outs[index] = out
        return ReasonBatch([o for o in outs if o is not None], notices)

    def stream(self, requests: list[ReasonRequest], *, seed: int | None = None) -> Iterator[tuple[int, str]]:
        """Yield ``(request index, whole reason)`` as each request completes (not token by token).

        A failed request streams its template reason; what failed is told by ``__call__``'s notices.
        """
        for index, out in self._run(requests, []):
            yield index, out.text

    def _run(self, requests: list[ReasonRequest], notices: list[str]) -> Iterator[tuple[int, ReasonOut]]:
        """``(index, reason)`` as each request completes; what degraded is appended to ``notices`` at the end."""
        if not requests:
            return
        try:
            key = self._api_key()
        except ConfigError as exc:
            # The variable was unset after prepare(): degrade like any other endpoint failure.
            notices.append(f"{exc}; showing template reasons")
            yield from enumerate(self.template(requests).reasons)
            return
        tripped = threading.Event()
        first_systemic: list[str] = []
        failures: Counter[str] = Counter()
        empty = 0

        def one(req: ReasonRequest) -> str:
            # Once the server is known to be down, the rest of the batch skips it instead of
            # each waiting out its own timeout.
            if tripped.is_set():
                raise _EndpointFailure(first_systemic[0] if first_systemic else "unreachable", True)
            try:
                cfg = self.config
                return self._complete(build_prompt(req, cfg.max_evidence, cfg.style, cfg.prompt_words), key)
            except _EndpointFailure as exc:
                if exc.systemic and not tripped.is_set():
                    first_systemic.append(exc.what)
                    tripped.set()
                raise

        workers = min(self.config.max_workers, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="genre-openai") as pool:
            futures = {pool.submit(one, req): i for i, req in enumerate(requests)}
            for future in as_completed(futures):
                index = futures[future]
                req = requests[index]
                try:
                    out = self._finish(req, future.result())
                    if out.generator != self.name:
                        empty += 1
                except _EndpointFailure as exc:
                    failures[exc.what] += 1
                    out = self.template.write(req)
                yield index, out

        total = len(requests)
        for what, count in failures.items():
            scope = "" if count == total else f" for {count} of {total} items"
            notices.append(f"openai-compatible endpoint {self.url} {what}; showing template reasons{scope}")
        notices += self._empty_notice(empty, total)

    def _max_tokens(self) -> int:
        """``max_tokens``, raised for styles longer than one sentence to about 1.6 tokens per word of the bound."""
        cfg = self.config
        if cfg.style == "one-line":
            return cfg.max_tokens
        return max(cfg.max_tokens, round(cfg.word_bound * 1.6))

    def _complete(self, prompt: str, key: str | None) -> str:
        """The server's reply text for one prompt, or an :class:`_EndpointFailure` saying what went wrong."""
        body = {
            "model": self.config.model,
            "messages": [
                {"role": "system", "content": system_prompt(self.config.style)},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": self._max_tokens(),
            "temperature": 0,
            "n": 1,
            "stream": False,
        }
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        timeout = self.config.timeout_s
        try:
            with self._opener.open(request, timeout=timeout) as response:
                payload = response.read(_MAX_REPLY_BYTES)
        except urllib.error.HTTPError as exc:
            # 4xx (wrong model, bad key, rate limit) will fail the same way for every item; 5xx may not.
            reason = f"{exc.code} {exc.reason}".strip()
            raise _EndpointFailure(f"returned HTTP {reason}", systemic=exc.code < 500) from exc
        except TimeoutError as exc:
            raise _EndpointFailure(f"unreachable (timed out after {timeout:g} s)", systemic=True) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise _EndpointFailure(f"unreachable (timed out after {timeout:g} s)", systemic=True) from exc
            raise _EndpointFailure(f"unreachable ({_reason_text(exc.reason)})", systemic=True) from exc
        except (OSError, ValueError, http.client.HTTPException) as exc:  # reset or cut off mid-reply, bad status line
            raise _EndpointFailure(f"unreachable ({_reason_text(exc)})", systemic=True) from exc
        return _reply_text(payload)


def _reason_text(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _reply_text(payload: bytes) -> str:
    """``choices[0].message.content`` of a chat completion; malformed replies become failures."""
    try:
        data = json.loads(payload)
        content = data["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise _EndpointFailure("returned a malformed response (no choices[0].message.content)", False) from exc
    if content is None:
        return ""
    if not isinstance(content, str):
        raise _EndpointFailure("returned a malformed response (message content is not text)", False)
    return content
