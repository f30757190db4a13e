"""The seed's evasion: a slow endpoint let a 60/minute window drain as fast as it filled.

The seed's limiter counted a request when its 1-second handler finished, so 70 concurrent
requests all got through. sluice counts at the door, before the upstream does any work: of 70
concurrent requests from one client exactly 60 are forwarded, and the 10 refusals are answered at
once instead of after the upstream's second.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from conftest import get, sluice_config

ROUTES = """
routes:
  - name: stats
    path: /api/system/stats
    limits:
      - per: ip
        rate: 60/minute
"""

CLIENTS = 70
QUOTA = 60
# The stub samples CPU for this long on every /api/system/stats request.
STATS_INTERVAL_S = 1.0


def stats_samples(stub):
    """How many /api/system/stats requests the stub has served (its sampler's counter)."""
    services = get(stub.port, "/api/services").json()["services"]
    sampler = next(s for s in services if s["name"] == "stats-sampler")
    return sampler["samples_total"]


def test_concurrent_requests_to_slow_endpoint_forward_exactly_the_quota(launcher):
    stub = launcher.start_stub("--stats-interval", str(STATS_INTERVAL_S))
    sluice = launcher.start_sluice(sluice_config(stub.port, ROUTES))
    samples_before = stats_samples(stub)

    # All 70 start together: every thread waits at the barrier, then connects and sends.
    barrier = threading.Barrier(CLIENTS, timeout=10)

    def one(_):
        barrier.wait()
        return get(sluice.port, "/api/system/stats", source="127.0.0.31", timeout=10)

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        responses = list(pool.map(one, range(CLIENTS), timeout=30))

    ok = [r for r in responses if r.status == 200]
    refused = [r for r in responses if r.status == 429]
    assert len(ok) == QUOTA, sorted(r.status for r in responses)
    assert len(refused) == CLIENTS - QUOTA, sorted(r.status for r in responses)

    # Refusals never waited for the upstream; admissions did (so they really were concurrent
    # with the refusals, which is the situation the seed got wrong).
    assert max(r.elapsed_s for r in refused) < 0.5, sorted(r.elapsed_s for r in refused)
    assert min(r.elapsed_s for r in ok) >= STATS_INTERVAL_S * 0.9, sorted(r.elapsed_s for r in ok)
    for r in refused:
        assert r.json()["route"] == "stats"

    # The upstream served exactly 60 of them: its own counter and sluice's access log agree.
    assert stats_samples(stub) - samples_before == QUOTA
    entries = sluice.wait_access_entries(lambda e: e["path"] == "/api/system/stats", CLIENTS)
    assert len(entries) == CLIENTS
    forwarded = [e for e in entries if e["decision"] == "allowed"]
    limited = [e for e in entries if e["decision"] != "allowed"]
    assert len(forwarded) == QUOTA
    assert all(e["status"] == 200 and e["upstream_ms"] >= STATS_INTERVAL_S * 900 for e in forwarded)
    assert len(limited) == CLIENTS - QUOTA
    assert all(e["status"] == 429 and e["upstream_ms"] is None for e in limited)
    assert all(e["client"] == "127.0.0.31" and e["route"] == "stats" for e in entries)

    # A 71st request a moment later is refused too: the 60 slow ones all counted.
    late = get(sluice.port, "/api/system/stats", source="127.0.0.31")
    assert late.status == 429
