"""The admin listener cannot be locked out, read by a rebinding page, or have its token guessed.

It used to serve 64 connections at most, all from anyone allowed, each kept 10 s per read: 64
idle connections shut out /healthz, /readyz and /metrics. Now each peer may hold
admin.max_connections_per_ip of them (a fixed 503 past that), the first request is due within
admin.header_timeout of the accept, keep-alive waits get admin.idle_timeout, an oversized head
gets 431, a Host outside admin.hosts gets 421, and wrong tokens on POST /reload are throttled per
peer (429, unchecked) once admin.token_failures_per_minute is spent.
"""

from __future__ import annotations

import re
import socket
import time

from conftest import get, read_raw_responses, request, sluice_config

WAIT_S = 10.0
TOKEN_ENV = "SLUICE_TEST_ADMIN_TOKEN"
TOKEN = "s3cret-admin-token-for-tests"


def raw_connect(port: int, source: str, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def admin_metric(sluice, reason: str, source: str = "127.0.0.1") -> float:
    text = get(sluice.admin_port, "/metrics", source=source).body.decode()
    match = re.search(r'^sluice_admin_refused_total\{reason="' + reason + r'"\} (\S+)$', text, re.M)
    assert match, text[-2000:]
    return float(match.group(1))


def wait_closed(sock: socket.socket, deadline_s: float) -> tuple[bytes, float]:
    """Reads until EOF or reset; (bytes, seconds it took). Fails after `deadline_s`."""
    started = time.monotonic()
    data = b""
    while True:
        left = started + deadline_s - time.monotonic()
        assert left > 0, f"still open after {deadline_s} s; got {data[:200]!r}"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data, time.monotonic() - started
        except socket.timeout:
            continue
        if not chunk:
            return data, time.monotonic() - started
        data += chunk


def admin_sluice(launcher, stub, admin: str = ""):
    return launcher.start_sluice(sluice_config(
        stub.port, f"admin: {{listen: 127.0.0.1:0{', ' + admin if admin else ''}}}\n"))


def test_idle_connections_from_one_peer_cannot_lock_out_healthz(launcher, stub):
    sluice = admin_sluice(launcher, stub)  # defaults: 64 connections, 8 per peer
    held = []
    try:
        for _ in range(64):
            held.append(raw_connect(sluice.admin_port, "127.0.30.1"))
        # The ninth and later were told at once and closed; the first eight wait, silent.
        answered = 0
        for s in held[8:]:
            data, _ = wait_closed(s, WAIT_S)
            assert data.startswith(b"HTTP/1.1 503"), data
            assert data.endswith(b'{"error":"too many admin connections from this peer"}'), data
            answered += 1
        assert answered == 56
        for path in ("/healthz", "/readyz", "/metrics"):
            r = get(sluice.admin_port, path, source="127.0.30.2")
            assert r.status == 200, (path, r.status, r.body)
        assert admin_metric(sluice, "per_ip", source="127.0.30.2") == 56
    finally:
        for s in held:
            s.close()


def test_an_idle_admin_connection_is_closed_after_header_timeout(launcher, stub):
    sluice = admin_sluice(launcher, stub, "header_timeout: 500ms, idle_timeout: 30s")
    with raw_connect(sluice.admin_port, "127.0.30.3") as s:
        data, took = wait_closed(s, WAIT_S)
    assert data == b""
    assert 0.4 <= took < 5.0, took
    # A kept-alive connection waits idle_timeout between requests, not header_timeout.
    with raw_connect(sluice.admin_port, "127.0.30.3") as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_raw_responses(s, 1)[0][0] == 200
        s.settimeout(1.5)
        try:
            s.recv(1)
            raise AssertionError("closed during the keep-alive wait")
        except socket.timeout:
            pass
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert read_raw_responses(s, 1)[0][0] == 200


def test_a_wrong_host_gets_421_and_listed_hosts_are_served(launcher, stub):
    sluice = admin_sluice(launcher, stub)
    port = sluice.admin_port
    for host in ("evil.example", f"evil.example:{port}", "localhost.evil.example", "127.0.0.2"):
        r = get(port, "/metrics", headers={"Host": host})
        assert r.status == 421, (host, r.status)
        assert r.json()["error"].startswith(f'Host "{host}" is not served here'), r.body
        assert b"sluice_" not in r.body
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", "LOCALHOST"):
        r = get(port, "/healthz", headers={"Host": host})
        assert r.status == 200, (host, r.status, r.body)
    assert admin_metric(sluice, "host") == 4


def test_admin_hosts_are_configurable(launcher, stub):
    sluice = admin_sluice(launcher, stub, "hosts: [sluice-admin.internal]")
    port = sluice.admin_port
    assert get(port, "/healthz", headers={"Host": f"sluice-admin.internal:{port}"}).status == 200
    assert get(port, "/healthz", headers={"Host": "localhost"}).status == 421
    # The IP literal of the address the connection reached is always served.
    assert get(port, "/healthz", headers={"Host": f"127.0.0.1:{port}"}).status == 200


def test_an_oversized_admin_request_gets_431(launcher, stub):
    sluice = admin_sluice(launcher, stub)
    with raw_connect(sluice.admin_port, "127.0.30.4") as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * (20 * 1024)
                  + b"\r\n\r\n")
        status, headers, _ = read_raw_responses(s, 1)[0]
    assert status == 431
    assert headers["connection"] == "close"
    assert admin_metric(sluice, "too_large") == 1


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_wrong_tokens_are_throttled_per_peer(launcher, stub, monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    sluice = admin_sluice(launcher, stub, f"token_env: {TOKEN_ENV}, token_failures_per_minute: 3")
    port = sluice.admin_port
    for i in range(3):
        r = request(port, "POST", "/reload", source="127.0.30.5", headers=bearer(f"guess{i}"))
        assert r.status == 401, (i, r.status, r.body)
    # Past its allowance the peer is answered 429 without the token being looked at: the right
    # one too, until the minute is over.
    for token in ("guess3", TOKEN):
        r = request(port, "POST", "/reload", source="127.0.30.5", headers=bearer(token))
        assert r.status == 429, (token, r.status, r.body)
        assert 1 <= int(r.header("Retry-After")) <= 60
    # Another peer is judged on its own.
    r = request(port, "POST", "/reload", source="127.0.30.6", headers=bearer(TOKEN))
    assert r.status == 200, (r.status, r.body)
    # A call with no credentials at all guessed nothing: 401, not counted against the peer.
    for _ in range(4):
        assert request(port, "POST", "/reload", source="127.0.30.7").status == 401
    assert request(port, "POST", "/reload", source="127.0.30.7", headers=bearer(TOKEN)).status == 200
    assert admin_metric(sluice, "token") == 7
    assert admin_metric(sluice, "token_throttled") == 2
