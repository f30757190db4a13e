"""How sluice relays what an upstream answers, from a raw-socket upstream (FakeUpstream) that
sends exact bytes: heads that bend HTTP's rules but are allowed (no reason phrase, interim 1xx
answers, chunk extensions and trailers, HTTP/1.0 keep-alive, Connection-named fields), and heads
that would let an upstream split or smuggle a response, which the client must get as a 502 while
the next request is served normally.
"""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

from conftest import FakeUpstream, connect, read_raw_responses, send, sluice_config

HONEST = b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhonest"


def serve_answers(answers: dict[bytes, bytes]):
    """A handler answering each request by its target (first match of a key in the request
    line), else HONEST; keeps the connection open unless the answer says close."""

    def handler(up: FakeUpstream, conn, index):
        for head in up.requests_on(conn, index):
            line = head.split(b"\r\n", 1)[0]
            answer = next((a for key, a in answers.items() if key in line), HONEST)
            conn.sendall(answer)

    return handler


def raw_get(port: int, target: str, source: str = "127.0.0.1") -> bytes:
    """One GET on a fresh connection that asks to close; returns the whole answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


# Each of these would frame the response differently for sluice and for the client (or put a
# field of the upstream's choosing into the client's head, or switch protocols nobody asked for,
# or never end the interim answers): never relayed.
MALFORMED = {
    "bare-lf-in-value": b"HTTP/1.1 200 OK\r\nX-A: b\nSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
    "bare-cr-in-value": b"HTTP/1.1 200 OK\r\nX-A: b\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
    "length-and-chunked": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED",
    "two-lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 10\r\n\r\nok",
    "obs-fold": b"HTTP/1.1 200 OK\r\nX-A: b\r\n Set-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
    "space-before-colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "not-http": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "unasked-101": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
    "nine-interim": b"HTTP/1.1 100 Continue\r\n\r\n" * 9 + HONEST,
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_upstream_heads_become_502_and_the_next_request_is_served(launcher, fake_upstream,
                                                                           case):
    up = fake_upstream(serve_answers({b"/bad": MALFORMED[case]}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    conn = connect(sluice.port)
    try:
        r = send(conn, "GET", "/bad")
        assert r.status == 502, (r.status, r.body)
        assert r.json()["error"] == "upstream sent a malformed response"
        assert "injected" not in str(r.headers) and b"SMUGGLED" not in r.body
        # Not retried: the upstream saw the bad request once.
        assert sum(b"/bad" in line for line in up.request_lines()) == 1
        for i in range(3):
            r = send(conn, "GET", f"/good?i={i}")
            assert (r.status, r.body) == (200, b"honest"), (r.status, r.body)
    finally:
        conn.close()
    assert "malformed response" in sluice.stderr_text()


def test_status_without_reason_gets_the_standard_one(launcher, fake_upstream):
    up = fake_upstream(serve_answers({b"/": b"HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx"}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    data = raw_get(sluice.port, "/")
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n"), data
    assert data.endswith(b"\r\n\r\nx")


def test_interim_answers_are_read_past(launcher, fake_upstream):
    answer = (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
              b"HTTP/1.1 100 Continue\r\n\r\n"
              b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal")
    up = fake_upstream(serve_answers({b"/": answer}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    conn = connect(sluice.port)
    try:
        for _ in range(2):  # and the connection stays in step for the next request
            r = send(conn, "GET", "/")
            assert (r.status, r.body) == (200, b"final")
    finally:
        conn.close()


def test_chunk_extensions_and_trailers_are_dropped_and_the_body_rechunked(launcher, fake_upstream):
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n"
              b"5;name=value\r\nhello\r\n000001\r\n \r\n6 ; q=\"x y\"\r\nworld!\r\n"
              b"0\r\nX-Sum: 42\r\n\r\n")
    up = fake_upstream(serve_answers({b"/": answer}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    with socket.create_connection(("127.0.0.1", sluice.port), timeout=5) as s:
        for _ in range(2):
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            [(status, headers, body)] = read_raw_responses(s, 1)
            assert status == 200
            assert headers.get("transfer-encoding") == "chunked", headers
            assert "trailer" not in headers and "x-sum" not in headers, headers
            assert body == b"hello world!", body


def test_http10_upstream_with_keep_alive_is_reused(launcher, fake_upstream):
    answer = b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok"
    up = fake_upstream(serve_answers({b"/": answer}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    conn = connect(sluice.port)
    try:
        for _ in range(3):
            r = send(conn, "GET", "/")
            assert (r.status, r.body) == (200, b"ok")
    finally:
        conn.close()
    assert len(up.conns) == 1


def test_connection_named_and_hop_by_hop_fields_stay_behind(launcher, fake_upstream):
    answer = (b"HTTP/1.1 200 OK\r\nConnection: X-Secret, keep-alive\r\nX-Secret: 1\r\n"
              b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"
              b"X-Request-Id: upstream-chosen\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok")
    up = fake_upstream(serve_answers({b"/": answer}))
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    data = raw_get(sluice.port, "/")
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    for gone in (b"x-secret", b"keep-alive:", b"proxy-connection", b"upgrade", b"upstream-chosen"):
        assert gone not in head, (gone, head)
    assert b"x-kept: yes" in head
    assert head.count(b"x-request-id:") == 1


def get_then_post(port: int, between) -> None:
    """On one client connection: GET /first, `between()`, then POST /second. Both must get the
    upstream's 200 "honest" (a POST is never retried, so it must not go on a dead connection)."""
    conn = connect(port)
    try:
        r = send(conn, "GET", "/first")
        assert (r.status, r.body) == (200, b"honest")
        between()
        r = send(conn, "POST", "/second", body=b"x")
        assert (r.status, r.body) == (200, b"honest"), (r.status, r.body)
    finally:
        conn.close()


def test_pooled_connection_closed_by_the_upstream_is_let_go_at_once(launcher, fake_upstream):
    """An upstream that ends an idle keep-alive connection (its keep-alive timeout) sees sluice
    close its side right away, not at the next request; a POST then goes on a new connection
    and succeeds (a POST is never retried, so it must not be sent on the dead one)."""
    closed_promptly = threading.Event()

    def handler(up: FakeUpstream, conn, index):
        head, _, _ = up.next_request(conn, index, b"")
        if head is None:
            return
        conn.sendall(HONEST)
        if index == 0:
            time.sleep(0.2)
            conn.shutdown(socket.SHUT_WR)  # FIN, as an idle timeout would
            conn.settimeout(3)
            if conn.recv(1) == b"":
                closed_promptly.set()
            return
        for _ in up.requests_on(conn, index):  # later connections serve on
            conn.sendall(HONEST)

    def closed_at_once():
        assert closed_promptly.wait(3), "sluice kept the upstream's closed connection open"

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    get_then_post(sluice.port, closed_at_once)
    assert len(up.conns) == 2


def exact_size_response(total: int, filler: bytes = b"a") -> bytes:
    """A Content-Length response of exactly `total` bytes on the wire."""
    for body_len in range(total, 0, -1):
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % body_len
        if len(head) + body_len == total:
            return head + filler * body_len
    raise AssertionError(total)


REAL = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nREAL"


def test_stray_bytes_just_after_a_response_never_answer_a_pipelined_request(launcher,
                                                                            fake_upstream):
    """The upstream follows a response of exactly one read (16 KiB) with a whole second response
    nobody asked for, in the same send. Those bytes are in the socket when the connection is
    pooled, so its standing read completes at once; the pipelined request right behind must not
    take that connection (and with it the stray response)."""
    first = exact_size_response(16384)
    stray = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY"

    def handler(up: FakeUpstream, conn, index):
        for served, _ in enumerate(up.requests_on(conn, index)):
            conn.sendall(first + stray if index == 0 and served == 0 else REAL)

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    for attempt in range(3):
        with socket.create_connection(("127.0.0.1", sluice.port), timeout=5) as s:
            s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n")
            (_, _, body1), (status2, _, body2) = read_raw_responses(s, 2)
        if attempt == 0:
            assert body1 == first.split(b"\r\n\r\n", 1)[1]
        assert (status2, body2) == (200, b"REAL"), (attempt, status2, body2)


def test_close_just_after_a_response_does_not_fail_a_pipelined_post(launcher, fake_upstream):
    """The upstream closes right after its response (without saying so). A POST pipelined behind
    it must go on a new connection, not fail on the closed one (a POST is never retried)."""
    first = exact_size_response(16384)

    def handler(up: FakeUpstream, conn, index):
        for _ in up.requests_on(conn, index):
            if index == 0:
                conn.sendall(first)
                conn.shutdown(socket.SHUT_WR)
                up.recv(conn, index)
                return
            conn.sendall(REAL)

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    with socket.create_connection(("127.0.0.1", sluice.port), timeout=5) as s:
        s.sendall(b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx")
        (status1, _, _), (status2, _, body2) = read_raw_responses(s, 2)
    assert status1 == 200
    assert (status2, body2) == (200, b"REAL")


def test_a_reused_connection_gets_one_response_timeout_for_the_whole_head(launcher, fake_upstream):
    """On a pooled connection the first bytes of the head arrive through the standing read; the
    rest of the head must not get a fresh response_timeout on top (a trickling upstream would
    otherwise double it)."""

    def handler(up: FakeUpstream, conn, index):
        for served, _ in enumerate(up.requests_on(conn, index)):
            if served == 0:
                conn.sendall(HONEST)
                continue
            time.sleep(0.7)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 20:
                conn.sendall(bytes([byte]))
                if up.stopping.wait(0.1):
                    return

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1,
                                                 upstream_extra="response_timeout: 1s"))
    conn = connect(sluice.port)
    try:
        assert send(conn, "GET", "/first").status == 200
        started = time.monotonic()
        r = send(conn, "GET", "/slow")
        elapsed = time.monotonic() - started
    finally:
        conn.close()
    assert r.status == 504, (r.status, r.body)
    assert elapsed < 1.6, elapsed  # one response_timeout (1 s), not 0.7 s + another 1 s


def send_with_fin(conn: socket.socket, data: bytes) -> None:
    """Sends `data` and the FIN in one TCP segment (corked), so a reader finds both queued at
    once: its first read returns the data, and no later readiness event announces the FIN."""
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    conn.sendall(data)
    conn.shutdown(socket.SHUT_WR)


def test_close_in_the_same_segment_as_a_response_is_seen_while_pooled(launcher, fake_upstream):
    """The upstream's response and its FIN arrive together. The read that takes the response
    leaves the FIN queued: sluice must still see it, close the pooled connection, and send the
    next request, a POST, on a new one rather than fail it on the dead one."""

    def handler(up: FakeUpstream, conn, index):
        for _ in up.requests_on(conn, index):
            if index == 0:
                send_with_fin(conn, HONEST)
                up.recv(conn, index)
                return
            conn.sendall(HONEST)

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    get_then_post(sluice.port, lambda: time.sleep(0.3))
    assert len(up.conns) == 2


def test_close_delimited_body_sent_with_its_fin_in_one_segment(launcher, fake_upstream):
    """An HTTP/1.0-style body ended by the close, with the FIN in the body's own segment: the
    response ends at once, not at the response timeout."""
    body = b"all of it, then the close"

    def handler(up: FakeUpstream, conn, index):
        head, _, _ = up.next_request(conn, index, b"")
        if head is not None:
            send_with_fin(conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(
        up.port, workers=1, upstream_extra="response_timeout: 20s"))
    started = time.monotonic()
    conn = connect(sluice.port, timeout=5)
    try:
        r = send(conn, "GET", "/whole")
    finally:
        conn.close()
    assert (r.status, r.body) == (200, body)
    assert time.monotonic() - started < 3


def test_reset_right_behind_a_response_does_not_fail_the_next_post(launcher, fake_upstream):
    """The upstream answers a keep-alive request and resets the connection at once (SO_LINGER
    0), so the reset is usually queued behind the response before sluice reads it, and no later
    event tells of it: the connection goes back to the pool looking alive. The POST that takes
    it has its first write refused, so the upstream saw none of it, and it is sent again on a new
    connection: 200, not 502."""

    def handler(up: FakeUpstream, conn, index):
        for head in up.requests_on(conn, index):
            if head.startswith(b"GET /reset "):
                conn.sendall(HONEST)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                return
            conn.sendall(HONEST)

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(up.port, workers=1))
    conn = connect(sluice.port)
    try:
        for attempt in range(3):
            r = send(conn, "GET", "/reset")
            assert (r.status, r.body) == (200, b"honest"), attempt
            time.sleep(0.2)
            r = send(conn, "POST", "/after", body=b"payload")
            assert (r.status, r.body) == (200, b"honest"), (attempt, r.status, r.body)
    finally:
        conn.close()
    posts = [line for line in up.request_lines() if line.startswith(b"POST")]
    assert len(posts) == 3, posts  # each POST reached the upstream exactly once


def test_close_delimited_body_ended_by_a_reset_ends_at_once(launcher, fake_upstream):
    """A body ended by the close, where the close is a reset right behind the last bytes (the
    upstream answered without reading everything, or aborts): the client gets the body and the
    close at once, not after the response timeout."""
    body = b"the answer, then a reset"

    def handler(up: FakeUpstream, conn, index):
        head, _, _ = up.next_request(conn, index, b"")
        if head is not None:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    up = fake_upstream(handler)
    sluice = launcher.start_sluice(sluice_config(
        up.port, workers=1, upstream_extra="response_timeout: 20s"))
    for attempt in range(3):
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", sluice.port), timeout=10) as s:
            s.sendall(b"GET /reset-ended HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while chunk := s.recv(65536):
                got += chunk
        assert time.monotonic() - started < 3, attempt
        assert got.startswith(b"HTTP/1.1 200"), got[:100]
        assert got.endswith(body), (attempt, got[-100:])
