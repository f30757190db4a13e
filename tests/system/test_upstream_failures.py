"""When the upstream fails: refused connections give 502, silence gives 504, and sluice goes on.

The "hanging" upstream is a small Python server here: it answers GET /ok at once and accepts,
reads, and never answers anything else, like a backend stuck in a handler.
"""

import socket
import threading
import time

import pytest

from conftest import free_port, get, sluice_config

ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
"""


class HangingUpstream:
    """Answers `GET /ok` with 200; holds every other request open without a byte in reply."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.held: list[socket.socket] = []
        self.accepted = 0
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        conn.settimeout(0.2)
        buf = b""
        while not self.stopping.is_set():
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            while b"\r\n\r\n" in buf:
                head, buf = buf.split(b"\r\n\r\n", 1)
                if head.startswith(b"GET /ok "):
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 b"Content-Type: text/plain\r\n\r\nok")
                else:
                    self.held.append(conn)  # never answered
        conn.close()

    def close(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(timeout=5)
        for conn in self.held:
            try:
                conn.close()
            except OSError:
                pass


@pytest.fixture
def hanging_upstream():
    upstream = HangingUpstream()
    try:
        yield upstream
    finally:
        upstream.close()


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
