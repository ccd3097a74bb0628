"""What the three FastAPI services of the original ShopStack share, rebuilt for the bench's
side-by-side case (bench/README.md, "The FastAPI original"): configuration from the environment,
the simulated latency and failures (off with SIMULATION=off), the Prometheus request counter and
latency histogram middleware, one JSON log line per request, and /healthz, /livez, /metrics.

Only Debian 12's packages: python3-fastapi, python3-uvicorn, python3-httpx,
python3-prometheus-client. OpenTelemetry for Python is not packaged in Debian 12, so there is no
tracing here (which makes this side faster, so the bench's ratio is conservative)."""

import asyncio
import json
import os
import random
import sys
import time

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

SIMULATION = os.environ.get("SIMULATION", "on") != "off"


async def simulate(low_ms: float, high_ms: float, failure_rate: float = 0.0) -> None:
    """The original's simulated database: a latency, then maybe a failure before any write."""
    if not SIMULATION:
        return
    await asyncio.sleep(random.uniform(low_ms, high_ms) / 1000)
    if random.random() < failure_rate:
        raise SimulatedFailure()


class SimulatedFailure(Exception):
    pass


def create_app(service: str) -> FastAPI:
    """A FastAPI app with the original's middleware and monitoring endpoints."""
    app = FastAPI(title=f"shopstack-{service}")
    registry = CollectorRegistry()
    requests_total = Counter(
        "http_requests_total", "HTTP requests.", ["method", "endpoint", "status"], registry=registry
    )
    duration = Histogram(
        "http_request_duration_seconds", "HTTP request latency.", ["method", "endpoint"], registry=registry
    )
    templates: dict = {}

    def template_of(request: Request) -> str:
        # The route template, never the raw path: the router leaves the matched endpoint in the scope.
        endpoint = request.scope.get("endpoint")
        if endpoint is None:
            return "unmatched"
        if endpoint not in templates:
            templates[endpoint] = next(
                (r.path for r in app.routes if getattr(r, "endpoint", None) is endpoint), "unmatched"
            )
        return templates[endpoint]

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        response = await call_next(request)
        elapsed = time.perf_counter() - started
        endpoint = template_of(request)
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        duration.labels(request.method, endpoint).observe(elapsed)
        sys.stdout.write(
            json.dumps(
                {
                    "time": int(time.time() * 1000),
                    "level": "info",
                    "service": service,
                    "method": request.method,
                    "path": request.url.path,
                    "route": endpoint,
                    "status": response.status_code,
                    "duration_ms": round(elapsed * 1000, 3),
                    "msg": "request",
                }
            )
            + "\n"
        )
        return response

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "service": service}

    @app.get("/livez")
    async def livez():
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics():
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def mulberry32(seed: int):
    """lib/src/random.ts's PRNG in 32-bit integer arithmetic, so the seed is the same products."""
    mask = 0xFFFFFFFF
    state = seed & mask

    def imul(a: int, b: int) -> int:
        return (a * b) & mask

    def next_random() -> float:
        nonlocal state
        state = (state + 0x6D2B79F5) & mask
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t ^= (t + imul(t ^ (t >> 7), t | 61)) & mask
        return ((t ^ (t >> 14)) & mask) / 4294967296

    return next_random
