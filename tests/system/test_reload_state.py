"""A reload never resets a count (issue 10): a limit whose rate changes keeps its clients' state,
reinterpreted under the new rate, with the real binaries.

The measured bug: a client at 8 of `10/minute` got 12 fresh admissions when a reload changed the
rate to `12/minute`, 20 in one minute. The right answer is 12 - 8 = 4. Each reload is waited for
on its own answer: POST /reload answers once the new config runs, and a SIGHUP's reload is seen
in sluice_config_reloads_total{result="success"}. The sliding window is the measured case
(per minute: its window is 60 s, far longer than the test). The token bucket counts per hour, so
that no token (one every 6 minutes) can come back during the test however slow the machine.
"""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from conftest import connect, request, send

TOKEN_ENV = "SLUICE_TEST_RELOAD_TOKEN"
TOKEN = "reload-state-token-for-tests"
ADMIN = f"admin: {{listen: 127.0.0.1:0, token_env: {TOKEN_ENV}}}\n"
RELOAD_DEADLINE_S = 5.0
LIMIT_NAME = "api"


def routes(rate: str, algorithm: str, per: str = "ip") -> str:
    return f"""
routes:
  - name: api
    prefix: /api/
    limits:
      - name: {LIMIT_NAME}
        per: {per}
        rate: {rate}
        algorithm: {algorithm}
"""


def reload_successes(sluice) -> float:
    r = request(sluice.admin_port, "GET", "/metrics")
    assert r.status == 200, (r.status, r.body)
    match = re.search(r'^sluice_config_reloads_total\{result="success"\} (\S+)$',
                      r.body.decode(), re.M)
    assert match, r.body.decode()[:2000]
    return float(match.group(1))


def reload(sluice, new_text: str, how: str) -> None:
    """Writes the new config and reloads it by `how` (post or sighup); returns once it runs."""
    before = reload_successes(sluice)
    sluice.config_path.write_text(new_text)
    if how == "post":
        r = request(sluice.admin_port, "POST", "/reload",
                    headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status == 200 and r.json()["reloaded"] is True, (r.status, r.body)
        return
    os.kill(sluice.pid, signal.SIGHUP)
    end = time.monotonic() + RELOAD_DEADLINE_S
    while reload_successes(sluice) < before + 1:
        assert time.monotonic() < end, f"the SIGHUP reload was not applied; stderr:\n{sluice.stderr_text()}"
        time.sleep(0.02)


def statuses(port: int, count: int, source: str, headers: dict | None = None) -> list[int]:
    return [request(port, "GET", "/api/headers", source=source, headers=headers).status
            for _ in range(count)]


@pytest.fixture
def token_env(monkeypatch):
    # The launcher passes the test's environment to sluice, which reads the token at start.
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


@pytest.mark.parametrize("how", ["post", "sighup"])
@pytest.mark.parametrize("algorithm,old_rate,new_rate", [
    ("sliding_window", "10/minute", "12/minute"),
    ("token_bucket", "10/hour", "12/hour"),
])
def test_a_raised_rate_gives_exactly_the_difference(make_sluice, token_env, how, algorithm,
                                                    old_rate, new_rate):
    sluice = make_sluice(routes(old_rate, algorithm) + ADMIN)
    client = "127.0.0.60"
    assert statuses(sluice.port, 8, client) == [200] * 8

    text = sluice.config_path.read_text()
    reload(sluice, text.replace(f"rate: {old_rate}", f"rate: {new_rate}"), how)

    # 12 - 8 = 4 more, not a fresh 12.
    assert statuses(sluice.port, 6, client) == [200] * 4 + [429] * 2
    # Someone who sent nothing before gets the whole new quota.
    assert statuses(sluice.port, 13, "127.0.0.61") == [200] * 12 + [429]


@pytest.mark.parametrize("algorithm,old_rate,new_rate", [
    ("sliding_window", "10/minute", "6/minute"),
    ("token_bucket", "10/hour", "6/hour"),
])
def test_a_lowered_rate_keeps_a_client_over_it_refused(make_sluice, token_env, algorithm,
                                                       old_rate, new_rate):
    sluice = make_sluice(routes(old_rate, algorithm) + ADMIN)
    client = "127.0.0.62"
    assert statuses(sluice.port, 8, client) == [200] * 8
    text = sluice.config_path.read_text()
    reload(sluice, text.replace(f"rate: {old_rate}", f"rate: {new_rate}"), "post")
    assert statuses(sluice.port, 3, client) == [429] * 3


def test_a_change_of_algorithm_carries_the_count_over(make_sluice, token_env):
    sluice = make_sluice(routes("10/hour", "sliding_window") + ADMIN)
    client = "127.0.0.63"
    assert statuses(sluice.port, 8, client) == [200] * 8
    text = sluice.config_path.read_text()
    # 8 admissions in the window are 8 tokens used of the new bucket of 12.
    reload(sluice, text.replace("rate: 10/hour", "rate: 12/hour")
           .replace("algorithm: sliding_window", "algorithm: token_bucket"), "post")
    assert statuses(sluice.port, 6, client) == [200] * 4 + [429] * 2
    # And back: 12 used tokens are 12 admissions, the whole window of 12.
    reload(sluice, sluice.config_path.read_text()
           .replace("algorithm: token_bucket", "algorithm: sliding_window"), "post")
    assert statuses(sluice.port, 2, client) == [429] * 2


def test_a_change_of_what_a_limit_counts_by_starts_afresh(make_sluice, token_env):
    sluice = make_sluice(routes("10/minute", "sliding_window") + ADMIN)
    client = "127.0.0.64"
    assert statuses(sluice.port, 8, client) == [200] * 8
    text = sluice.config_path.read_text()
    reload(sluice, text.replace("per: ip", "per: header X-Key"), "post")
    # Keyed by the header now: each value starts with the whole quota, as the client IP does
    # for a request without the header.
    key = {"X-Key": "k1"}
    assert statuses(sluice.port, 11, client, key) == [200] * 10 + [429]
    assert statuses(sluice.port, 11, client) == [200] * 10 + [429]


def test_a_connection_idle_through_a_reload_is_judged_by_the_new_config(make_sluice, token_env):
    sluice = make_sluice(routes("10/minute", "sliding_window") + ADMIN)
    conn = connect(sluice.port, "127.0.0.65")
    try:
        for _ in range(8):
            r = send(conn, "GET", "/api/headers")
            assert r.status == 200
        assert r.header("RateLimit-Policy") == f'"{LIMIT_NAME}";q=10;w=60'
        reload(sluice, sluice.config_path.read_text().replace("rate: 10/minute", "rate: 12/minute"),
               "post")
        # The same keep-alive connection, which sat idle while the reload ran: its next request
        # is under the new limit, with the count it had.
        seen = []
        for _ in range(5):
            r = send(conn, "GET", "/api/headers")
            seen.append((r.status, r.header("RateLimit-Policy"), r.header("RateLimit")))
        policy = f'"{LIMIT_NAME}";q=12;w=60'
        assert [s[:2] for s in seen] == [(200, policy)] * 4 + [(429, policy)], seen
        assert [re.search(r";r=(\d+)", s[2]).group(1) for s in seen[:4]] == ["3", "2", "1", "0"], seen
    finally:
        conn.close()
