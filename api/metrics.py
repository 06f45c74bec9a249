"""Prometheus metrics: requests, latencies, access decisions by rule, projection lag.

One registry per app (not the global one), so several apps in one process (tests)
don't collide. Labels are route templates and rule names: never ids or pseudonyms.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self, lag: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "sequester_http_requests_total", "HTTP requests", ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "sequester_http_request_seconds", "HTTP request latency", ["route"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.decisions = Counter(
            "sequester_access_decisions_total", "Chart access decisions", ["decision", "rule"],
            registry=self.registry,
        )
        self.projection_lag = Gauge(
            "sequester_projection_lag_events", "Events not yet applied by the slowest projection",
            registry=self.registry,
        )
        if lag is not None:
            self.projection_lag.set_function(lag)

    def observe(self, route: str, status: int, seconds: float) -> None:
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)

    def decision(self, allowed: bool, rule: str) -> None:
        self.decisions.labels("allowed" if allowed else "denied", rule).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
