"""No client can lock the others out with connections (issue 11).

One address opening many silent sockets used to take every slot of caps.max_client_connections,
each kept for client_idle (60 s), so every other client, the exempt /health included, got 503.
Here:
- caps.max_connections_per_ip refuses a key's extra connections at accept (a fixed 503, nothing
  read), so another 127.0.0.x client and /health still get through; trusted proxies are exempt;
- a connection that sends nothing is closed after client_header, counted from the accept;
  keep-alive waits between requests keep client_idle;
- when the pool is full, the reserve (caps.reserved_connections) still lets allowlisted clients
  and exempt routes in, while a normal request in the reserve gets 503 and a close.

Every wait is on a counter (the admin listener's /metrics), a response or a socket's EOF, each
with a bound; no test sleeps to let something happen.
"""

from __future__ import annotations

import re
import socket
import time

from conftest import get, read_raw_responses, request, sluice_config

# Generous bounds for a machine whose two cores are busy with other work.
WAIT_S = 10.0


def raw_connect(port: int, source: str, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                    source_address=(source, 0))


def raw_get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: sluice\r\n{extra}\r\n".encode()


def metric(sluice, name: str, **labels: str) -> float:
    """One sample from the admin listener's /metrics (0 when the series is absent)."""
    text = get(sluice.admin_port, "/metrics").body.decode()
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    match = re.search(pattern, text, re.M)
    return float(match.group(1)) if match else 0.0


def wait_metric(sluice, name: str, predicate, deadline_s: float = WAIT_S, **labels) -> float:
    """Polls a metric until `predicate(value)` holds; returns the last value (bounded)."""
    end = time.monotonic() + deadline_s
    while True:
        value = metric(sluice, name, **labels)
        if predicate(value) or time.monotonic() > end:
            return value
        time.sleep(0.05)


def wait_closed(sock: socket.socket, deadline_s: float) -> tuple[bytes, float]:
    """Reads until EOF or reset; returns (bytes, seconds it took). Fails after `deadline_s`."""
    started = time.monotonic()
    data = b""
    end = started + deadline_s
    while True:
        left = end - time.monotonic()
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


def close_all(socks) -> None:
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
"""


# --------------------------------------------------------------------------------------------
# Per-IP cap


def test_one_address_with_many_silent_sockets_cannot_lock_out_another_client(launcher, stub):
    per_ip, pool, opened = 20, 100, 150
    sluice = launcher.start_sluice(sluice_config(
        stub.port, ROUTES +
        f"caps: {{max_client_connections: {pool}, max_connections_per_ip: {per_ip}}}\n"
        "timeouts: {client_header: 30s}\n"))
    held = []
    try:
        # More silent sockets from one address than the whole pool holds.
        for _ in range(opened):
            held.append(raw_connect(sluice.port, "127.0.20.1"))
        refused = wait_metric(sluice, "sluice_connections_refused_total",
                              lambda v: v >= opened - per_ip, reason="per_ip")
        assert refused == opened - per_ip
        assert metric(sluice, "sluice_client_connections") == per_ip
        assert metric(sluice, "sluice_client_connection_keys") == 1

        # Another client, and the exempt /health from it, are served at once.
        for path in ("/api/headers", "/health"):
            r = get(sluice.port, path, source="127.0.20.2")
            assert r.status == 200, (path, r.status, r.body)
        # The same address still gets answers, not silence: a fixed 503 at accept, and a close.
        with raw_connect(sluice.port, "127.0.20.1") as extra:
            data, _ = wait_closed(extra, WAIT_S)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503"), data
        assert b"\r\nRetry-After: 1" in head and b"\r\nConnection: close" in head, data
        assert body == b'{"error":"too many connections from this client"}', data
        # The refused sockets were told the same, and closed.
        answered = 0
        for s in held:
            s.settimeout(0.01)
            try:
                if s.recv(4096).startswith(b"HTTP/1.1 503"):
                    answered += 1
            except (socket.timeout, ConnectionResetError):
                pass
        assert answered == opened - per_ip
    finally:
        close_all(held)

    # Closed, they take their entries with them: the table holds only addresses connected now.
    assert wait_metric(sluice, "sluice_client_connections", lambda v: v == 0) == 0
    assert metric(sluice, "sluice_client_connection_keys") == 0
    assert get(sluice.port, "/api/headers", source="127.0.20.1").status == 200


def test_a_trusted_proxy_is_not_capped_per_ip(launcher, stub):
    per_ip, conns = 5, 15
    sluice = launcher.start_sluice(sluice_config(
        stub.port, ROUTES +
        f"caps: {{max_connections_per_ip: {per_ip}}}\n"
        "client_ip: {trusted_proxies: [127.0.21.1/32]}\n"))
    held = []
    try:
        # The load balancer carries many clients: every one of its connections is served, each
        # request judged for the client it names.
        for i in range(conns):
            s = raw_connect(sluice.port, "127.0.21.1")
            s.sendall(raw_get(f"/api/headers?i={i}", f"X-Forwarded-For: 203.0.113.{i + 1}\r\n"))
            assert read_raw_responses(s, 1)[0][0] == 200, i
            held.append(s)
        assert metric(sluice, "sluice_client_connections") == conns
        assert metric(sluice, "sluice_client_connection_keys") == 0
        assert metric(sluice, "sluice_connections_refused_total", reason="per_ip") == 0
        # A peer that is not a trusted proxy still has its cap.
        statuses = []
        for i in range(per_ip + 2):
            s = raw_connect(sluice.port, "127.0.21.2")
            held.append(s)
            s.sendall(raw_get(f"/api/headers?j={i}"))
            statuses.append(read_raw_responses(s, 1)[0][0])
        assert statuses == [200] * per_ip + [503, 503], statuses
    finally:
        close_all(held)


# --------------------------------------------------------------------------------------------
# Deadlines


def test_a_silent_connection_is_closed_after_client_header_not_client_idle(launcher, stub):
    sluice = launcher.start_sluice(sluice_config(
        stub.port, ROUTES + "timeouts: {client_header: 500ms, client_idle: 30s}\n"))
    with raw_connect(sluice.port, "127.0.22.1") as silent:
        data, took = wait_closed(silent, WAIT_S)
    assert data == b""  # nothing to answer: it never asked
    assert 0.4 <= took < 5.0, took  # client_header (0.5 s), nowhere near client_idle (30 s)
    assert wait_metric(sluice, "sluice_client_connections", lambda v: v == 0) == 0


def test_a_keep_alive_wait_between_requests_keeps_client_idle(launcher, stub):
    sluice = launcher.start_sluice(sluice_config(
        stub.port, ROUTES + "timeouts: {client_header: 300ms, client_idle: 30s}\n"))
    with raw_connect(sluice.port, "127.0.22.2") as s:
        s.sendall(raw_get("/api/headers?first=1"))
        assert read_raw_responses(s, 1)[0][0] == 200
        # Several client_header periods pass between requests: the connection stays open.
        s.settimeout(1.5)
        try:
            assert s.recv(1) == b"", "unexpected bytes"
            raise AssertionError("closed during the keep-alive wait")
        except socket.timeout:
            pass
        s.sendall(raw_get("/api/headers?second=1"))
        assert read_raw_responses(s, 1)[0][0] == 200


# --------------------------------------------------------------------------------------------
# The reserve


RESERVE = ROUTES + """
allowlist: [127.0.23.9/32]
caps: {max_client_connections: 20, reserved_connections: 4, max_connections_per_ip: 0}
timeouts: {client_header: 30s}
"""


def test_the_reserve_lets_exempt_and_allowlisted_clients_in_when_the_pool_is_full(launcher, stub):
    normal = 16  # max_client_connections 20 less the 4 reserved
    sluice = launcher.start_sluice(sluice_config(stub.port, RESERVE))
    held = []
    try:
        for i in range(normal):
            held.append(raw_connect(sluice.port, f"127.0.23.{10 + i % 4}"))
        assert wait_metric(sluice, "sluice_client_connections", lambda v: v == normal) == normal

        # A normal request on a reserve connection: 503, a close, and counted.
        with raw_connect(sluice.port, "127.0.23.1") as s:
            s.sendall(raw_get("/api/headers?reserve=1"))
            data, _ = wait_closed(s, WAIT_S)
        assert data.startswith(b"HTTP/1.1 503"), data
        assert b"reserve" in data and b"\r\nConnection: close" in data, data
        assert wait_metric(sluice, "sluice_connections_refused_total", lambda v: v >= 1,
                           reason="reserve") == 1

        # The exempt /health is served there, once, and the connection goes.
        with raw_connect(sluice.port, "127.0.23.1") as s:
            s.sendall(raw_get("/health"))
            data, _ = wait_closed(s, WAIT_S)
        assert data.startswith(b"HTTP/1.1 200"), data
        assert b"\r\nConnection: close" in data, data

        # An allowlisted client is served like anywhere, keep-alive included.
        with raw_connect(sluice.port, "127.0.23.9") as s:
            for i in range(2):
                s.sendall(raw_get(f"/api/headers?allowlisted={i}"))
                assert read_raw_responses(s, 1)[0][0] == 200, i
    finally:
        close_all(held)


def test_a_flood_into_the_reserve_holds_it_briefly_and_leaves_allowlisted_slots(launcher, stub):
    normal = 16
    sluice = launcher.start_sluice(sluice_config(stub.port, RESERVE))
    held = []
    try:
        for i in range(normal):
            held.append(raw_connect(sluice.port, f"127.0.23.{10 + i % 4}"))
        assert wait_metric(sluice, "sluice_client_connections", lambda v: v == normal) == normal
        # Peers not allowlisted may take half the reserve (2), silent or not...
        flood = [raw_connect(sluice.port, f"127.0.23.{30 + i}") for i in range(2)]
        # ...a third is refused (at accept, or in the reserve if the first two have gone), and
        # allowlisted clients still get in.
        with raw_connect(sluice.port, "127.0.23.32") as s:
            s.sendall(raw_get("/api/headers?third=1"))
            assert read_raw_responses(s, 1)[0][0] == 503
        for i in range(2):
            r = get(sluice.port, f"/api/headers?allowlisted={i}", source="127.0.23.9")
            assert r.status == 200, (r.status, r.body)
        # A silent reserve connection is closed after its short head deadline (1 s), not
        # client_header (30 s), so the reserve turns over.
        for s in flood:
            _, took = wait_closed(s, WAIT_S)
            assert took < 5.0, took
            s.close()
    finally:
        close_all(held)
