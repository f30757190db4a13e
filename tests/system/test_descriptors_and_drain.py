"""Out of descriptors, and the stop's drain.

EMFILE: new clients used to get no answer at all (accept failed, and was retried and logged every
50 ms) and accepted ones a 502. Now a spare descriptor is freed to accept each waiting client and
answer it 503, the log says so at most once a second, and a request that cannot open its upstream
connection for want of a descriptor gets 503 (sluice's state, not the upstream's fault).

Stop: the drain was a fixed 10 s, after which requests in progress were cut with a bare
`stopped`. Now it is timeouts.drain, and the log says how many requests and WebSockets it cut.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import threading
import time

from conftest import get, read_raw_responses, sluice_config

WAIT_S = 10.0
# Far below what sluice needs for its defaults (it warns), far above what it needs to start.
NOFILE = 48


def raw_connect(port: int, source: str, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def probe(port: int, source: str) -> tuple[int, bytes]:
    """One request on a fresh connection; (status, body). Fails if sluice says nothing."""
    with raw_connect(port, source, timeout=WAIT_S) as s:
        s.sendall(b"GET /api/headers HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n\r\n")
        status, _, body = read_raw_responses(s, 1, deadline_s=WAIT_S)[0]
        return status, body


def accept_failure_lines(sluice) -> int:
    return len(re.findall(r"accept failed", sluice.stderr_text()))


def test_out_of_descriptors_answers_503_and_logs_at_most_once_a_second(launcher, stub):
    sluice = launcher.start_sluice(sluice_config(
        stub.port, "timeouts: {client_header: 30s}\n",
        workers=1, upstream_extra="pool_max_idle: 0"), access_log=False, nofile=NOFILE)
    assert "open-file limit 48 is below what the caps may need" in sluice.stderr_text()

    # A keep-alive client served before the descriptors run out.
    early = raw_connect(sluice.port, "127.0.25.1")
    early.sendall(b"GET /api/headers?early=1 HTTP/1.1\r\nHost: sluice\r\n\r\n")
    assert read_raw_responses(early, 1)[0][0] == 200

    silent = []
    try:
        # Silent connections take the descriptors one by one. On the way, a probe that finds a
        # descriptor for itself but none for its upstream connection gets 503 (not 502); once
        # none is left, a probe is answered through the spare descriptor.
        FULL = b'{"error":"too many client connections"}'
        seen = set()
        for i in range(NOFILE):
            silent.append(raw_connect(sluice.port, f"127.0.25.{10 + i % 50}"))
            status, body = probe(sluice.port, "127.0.25.2")
            seen.add(status)
            if body == FULL:
                break
        assert body == FULL and status == 503, (status, body, sluice.stderr_text()[-2000:])
        assert seen <= {200, 503}, seen

        # Every client over the limit is answered 503 at once: never silence.
        started = time.monotonic()
        refused = 0
        for i in range(40):
            status, body = probe(sluice.port, f"127.0.26.{1 + i}")
            assert (status, body) == (503, FULL), (i, status, body)
            refused += 1
        took = time.monotonic() - started

        # The client accepted earlier cannot open an upstream connection: 503, not 502.
        early.sendall(b"GET /api/headers?late=1 HTTP/1.1\r\nHost: sluice\r\n\r\n")
        status, _, body = read_raw_responses(early, 1)[0]
        assert status == 503, (status, body)
        assert b"out of file descriptors" in body, body

        # One log line a second at most, not one per failure (or per 50 ms).
        lines = accept_failure_lines(sluice)
        assert 1 <= lines <= took + 2, (lines, took)
        assert "out of file descriptors" in sluice.stderr_text()
    finally:
        for s in silent:
            s.close()
        early.close()

    # Descriptors back: served again, and the refusals were counted.
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        try:
            if get(sluice.port, "/api/headers", source="127.0.25.3", timeout=2).status == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    text = get(sluice.admin_port, "/metrics").body.decode()
    match = re.search(r'^sluice_connections_refused_total\{reason="descriptors"\} (\S+)$', text, re.M)
    assert match and float(match.group(1)) >= refused + 1, text[-3000:]
    assert sluice.alive()


def in_flight(sluice) -> float:
    text = get(sluice.admin_port, "/metrics").body.decode()
    match = re.search(r"^sluice_requests_in_flight (\S+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_a_request_longer_than_the_drain_is_cut_and_the_log_says_so(launcher, stub):
    sluice = launcher.start_sluice(sluice_config(stub.port, "timeouts: {drain: 500ms}\n"))
    outcome: list[object] = []

    def slow_client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", sluice.port, timeout=WAIT_S,
                                          source_address=("127.0.27.1", 0))
        try:
            conn.request("GET", "/api/delay?ms=5000")
            outcome.append(conn.getresponse().status)
        except (http.client.RemoteDisconnected, ConnectionResetError) as e:
            outcome.append(type(e).__name__)
        finally:
            conn.close()

    client = threading.Thread(target=slow_client)
    client.start()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and in_flight(sluice) < 1:
        time.sleep(0.02)
    assert in_flight(sluice) == 1

    started = time.monotonic()
    os.kill(sluice.pid, signal.SIGTERM)
    code = sluice.popen.wait(timeout=WAIT_S)
    took = time.monotonic() - started
    client.join(timeout=WAIT_S)

    assert code == 0
    assert took < 3.0, took  # the 500 ms drain, not the 5 s response nor the old fixed 10 s
    assert outcome and outcome[0] != 200, outcome  # cut: the request never got its answer
    log = sluice.stderr_text()
    assert "timeouts.drain 500ms" in log, log
    assert "cut 1 requests and 0 WebSockets still in progress" in log, log


def test_a_drain_that_finishes_in_time_cuts_nothing(launcher, stub):
    sluice = launcher.start_sluice(sluice_config(stub.port, "timeouts: {drain: 5s}\n"))
    result: list[int] = []
    client = threading.Thread(target=lambda: result.append(
        get(sluice.port, "/api/delay?ms=300", source="127.0.27.2", timeout=WAIT_S).status))
    client.start()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and in_flight(sluice) < 1 and not result:
        time.sleep(0.02)
    os.kill(sluice.pid, signal.SIGTERM)
    assert sluice.popen.wait(timeout=WAIT_S) == 0
    client.join(timeout=WAIT_S)
    assert result == [200]
    log = sluice.stderr_text()
    assert "stopped (drained: nothing in progress was cut)" in log, log
    assert "cut " not in log, log
