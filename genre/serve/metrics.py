"""Prometheus metrics of one app, in a registry of its own (two apps in one process never mix counts).

What a trace tells is read from the trace itself: its per-stage timings, each shown reason's
generator and verdict (rejected reasons counted by verdict error type), the candidates a generator
wrote and did not show, and the fallbacks the service made when the generator failed or ran late.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from genre import __version__
from genre.core.types import RunTrace

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ServiceMetrics:
    """The app's counters, histograms and gauges, and how a trace updates them."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.request_seconds = Histogram(
            "genre_http_request_duration_seconds",
            "Request latency by endpoint (route template), method and status class.",
            ["endpoint", "method", "status"],
            buckets=REQUEST_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "genre_http_errors",
            "Responses with status 4xx or 5xx, by endpoint, status and error code.",
            ["endpoint", "status", "code"],
            registry=r,
        )
        self.stage_seconds = Histogram(
            "genre_pipeline_stage_duration_seconds",
            "Pipeline stage latency from each trace's timings, by config, stage and component.",
            ["config", "stage", "component"],
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.reasons = Counter(
            "genre_reasons",
            "Reasons returned, by config, the generator that wrote them and the verifier's outcome "
            "(verified, rejected, or unverified).",
            ["config", "generator", "outcome"],
            registry=r,
        )
        self.rejections = Counter(
            "genre_reason_rejections",
            "Errors the verifier found in returned reasons that failed it, by config and error type.",
            ["config", "cause"],
            registry=r,
        )
        self.candidates_rejected = Counter(
            "genre_reason_candidates_rejected",
            "Generated candidate reasons that were not shown because they failed the check, by config and generator.",
            ["config", "generator"],
            registry=r,
        )
        self.fallbacks = Counter(
            "genre_reason_fallbacks",
            "Template reasons returned in place of generated ones, by config and cause "
            "(no_candidate_passed, timeout, generator_error, generator_unavailable).",
            ["config", "cause"],
            registry=r,
        )
        self.model_info = Gauge(
            "genre_model_info",
            "Built pipelines (1 each): config, model version, device, reason generator and GENRE version.",
            ["config", "model_version", "device", "generator", "genre_version"],
            registry=r,
        )
        self.rate_limited = Counter(
            "genre_rate_limited", "Requests refused by the per-key rate limit.", ["endpoint"], registry=r
        )

    def observe_request(self, endpoint: str, method: str, status: int, seconds: float, code: str | None) -> None:
        self.request_seconds.labels(endpoint, method, f"{status // 100}xx").observe(seconds)
        if status >= 400:
            self.errors.labels(endpoint, str(status), code or "unknown").inc()

    def observe_trace(self, trace: RunTrace, ranks: list[int] | None = None) -> None:
        """Count ``trace``'s stage timings and the reasons at ``ranks`` (all its items when None)."""
        config = trace.config_name
        if ranks is None:
            for timing in trace.timings:
                self.stage_seconds.labels(config, timing.stage, timing.component).observe(timing.ms / 1000)
        chosen = trace.items if ranks is None else [i for i in trace.items if i.rank in ranks]
        for item in chosen:
            reason = item.reason
            if reason is None or item.rank in trace.pending_reasons:
                continue
            verdict = reason.verdict
            outcome = "unverified" if verdict is None else "verified" if verdict.passed else "rejected"
            self.reasons.labels(config, reason.generator, outcome).inc()
            if verdict is not None and not verdict.passed:
                for cause in [str(e) for e in verdict.errors] or ["unknown"]:
                    self.rejections.labels(config, cause).inc()
            if reason.rejected:
                self.candidates_rejected.labels(config, reason.generator).inc(len(reason.rejected))
            if reason.fallback:
                self.fallbacks.labels(config, "no_candidate_passed").inc()

    def pipeline_built(self, config: str, model_version: str | None, device: str, generator: str) -> None:
        self.model_info.labels(config, model_version or "base", device, generator, __version__).set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)
