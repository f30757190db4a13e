"""When the upstream fails: refused connections give 502, silence gives 504, and sluice goes on.

The "hanging" upstream is a FakeUpstream (conftest.py): it answers GET /ok at once and accepts,
reads, and never answers anything else, like a backend stuck in a handler.
"""

import threading
import time

import pytest

from conftest import FakeUpstream, free_port, get, sluice_config

ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
"""


def hang_all_but_ok(up: FakeUpstream, conn, index):
    """Answers `GET /ok` with 200; holds any other request open without a byte in reply, until
    the upstream is closed at teardown."""
    for head in up.requests_on(conn, index):
        if not head.startswith(b"GET /ok "):
            up.stopping.wait()  # never answered
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")


@pytest.fixture
def hanging_upstream(fake_upstream):
    return fake_upstream(hang_all_but_ok)


def test_upstream_down_gives_502_quickly_and_sluice_keeps_serving(launcher):
    port = free_port()  # bound, read and closed: nothing listens on it now
    sluice = launcher.start_sluice(sluice_config(port, ROUTES,
                                                 upstream_extra="connect_timeout: 2s"))
    for i in range(5):
        r = get(sluice.port, f"/api/services?i={i}", source="127.0.0.71")
        assert r.status == 502
        assert r.header("Content-Type").startswith("application/json")
        assert r.json()["error"]
        # A refused connect is immediate; sluice must not wait out connect_timeout on it.
        assert r.elapsed_s < 1.0, r.elapsed_s
    assert sluice.alive()
    # Exempt routes are forwarded too, so they fail the same way; still answered, still quick.
    assert get(sluice.port, "/health", source="127.0.0.72").status == 502
    entries = sluice.wait_access_entries(lambda e: True, 6)
    assert [e["status"] for e in entries] == [502] * 6


def test_upstream_silent_gives_504_after_response_timeout(launcher, hanging_upstream):
    sluice = launcher.start_sluice(sluice_config(hanging_upstream.port, ROUTES,
                                                 upstream_extra="response_timeout: 1s"))
    assert get(sluice.port, "/ok", source="127.0.0.73").status == 200

    r = get(sluice.port, "/api/system/stats", source="127.0.0.73", timeout=10)
    assert r.status == 504
    assert r.header("Content-Type").startswith("application/json")
    assert r.json()["error"]
    assert 0.9 <= r.elapsed_s <= 3.0, r.elapsed_s

    # Several hung at once time out together, not one after another.
    results = []
    threads = [threading.Thread(target=lambda: results.append(
        get(sluice.port, "/hang", source="127.0.0.74", timeout=10))) for _ in range(5)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert [r.status for r in results] == [504] * 5
    assert time.monotonic() - started <= 3.5

    # The proxy is still serving: a healthy request on a new connection goes through at once.
    ok = get(sluice.port, "/ok", source="127.0.0.75")
    assert ok.status == 200 and ok.body == b"ok"
    assert ok.elapsed_s < 0.5
    assert sluice.alive()
    logged = sluice.wait_access_entries(lambda e: e["status"] == 504, 6)
    assert len(logged) == 6
