"""The seed incident's three verification runs, against sluice with the shipped limits.

Each run sends its requests 0.05 s apart, one connection per request like the seed's curl loop,
from its own fresh source address (so no run eats another's quota). A correct limiter admits
exactly the first N and refuses every request after them, in that order.
"""

import re
import time

import pytest

from conftest import StubRequestCounter, get

ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
  - name: stats
    path: /api/system/stats
    limits:
      - per: ip
        rate: 60/minute
  - name: ports
    path: /api/system/ports
    limits:
      - per: ip
        rate: 30/minute
  - name: services
    path: /api/services
    limits:
      - per: ip
        rate: 60/minute
"""

# Spacing of the seed's loop (`sleep 0.05` between curl calls).
SPACING_S = 0.05

RATELIMIT_RE = re.compile(r'^"(?P<name>[^"]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')
POLICY_RE = re.compile(r'^"(?P<name>[^"]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')


def run_seed_loop(port, path, count, source):

    responses = []
    for _ in range(count):
        responses.append(get(port, path, source=source))
        time.sleep(SPACING_S)
    return responses


def ratelimit_fields(response):
    match = RATELIMIT_RE.match(response.header("RateLimit") or "")
    assert match, f"RateLimit header malformed: {response.header('RateLimit')!r}"
    return match.group("name"), int(match.group("r")), int(match.group("t"))


@pytest.mark.parametrize("path, route, source, quota, total", [
    ("/api/system/stats", "stats", "127.0.0.21", 60, 70),
    ("/api/system/ports", "ports", "127.0.0.22", 30, 40),
    ("/api/services", "services", "127.0.0.23", 60, 70),
])
def test_seed_run(make_sluice, stub, path, route, source, quota, total):
    sluice = make_sluice(ROUTES)
    upstream = StubRequestCounter(stub)

    responses = run_seed_loop(sluice.port, path, total, source)
    statuses = [r.status for r in responses]

    # Exactly the first `quota` admitted, then every one refused: no 59/60, no interleaving.
    assert statuses == [200] * quota + [429] * (total - quota), statuses

    # Only the admitted requests reached the upstream.
    assert upstream.since() == quota

    # Allowed responses carry RateLimit, with the remaining count going down one by one.
    remaining = []
    for r in responses[:quota]:
        name, r_left, t = ratelimit_fields(r)
        assert name == f"{quota}/minute per ip"
        assert 0 <= t <= 60
        remaining.append(r_left)
    assert remaining == list(range(quota - 1, -1, -1))

    # A refusal: JSON body, Retry-After, RateLimit-Policy and RateLimit.
    refused = responses[quota]
    assert refused.header("Content-Type").startswith("application/json")
    body = refused.json()
    assert body["error"]
    assert body["route"] == route
    assert body["limit"] == f"{quota}/minute per ip"
    assert isinstance(body["retry_after_s"], int)
    # The window started at the first admission ~quota*SPACING_S ago, so the oldest admission
    # leaves it in at most 60 s and at least 60 - (a generous allowance for the run's length).
    assert 60 - total * 0.5 <= body["retry_after_s"] <= 60
    assert int(refused.header("Retry-After")) == body["retry_after_s"]
    policy = POLICY_RE.match(refused.header("RateLimit-Policy") or "")
    assert policy, refused.header("RateLimit-Policy")
    assert policy.group("name") == f"{quota}/minute per ip"
    assert int(policy.group("q")) == quota
    assert int(policy.group("w")) == 60
    name, r_left, t = ratelimit_fields(refused)
    assert name == f"{quota}/minute per ip"
    assert r_left == 0
    assert 0 < t <= 60

    # Every refusal names the same route and limit.
    for r in responses[quota:]:
        assert r.json()["route"] == route
        assert int(r.header("Retry-After")) >= 1
