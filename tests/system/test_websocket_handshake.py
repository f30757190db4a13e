"""The opening handshakes of a WebSocket through sluice, against hand-written upstreams:

- an upstream that never answers the upgrade: the client gets 504 with the JSON body of every
  local answer, and sluice_upstream_timeouts_total counts it;
- an upstream's refusal (403, text/plain) reaches the client labelled as the upstream labelled it;
- no field of Beast's own on either handshake: no Server on the client's 101, no User-Agent on the
  upstream's request (a client's own User-Agent still goes through, end to end);
- a Sec-WebSocket-Key that is not 16 bytes in base64 is refused with 400.

Every wait has a deadline (sockets have timeouts, the upstream handlers report through a queue
read with a timeout).
"""

from __future__ import annotations

import queue
import re
import socket

from conftest import get, sluice_config
from test_websocket_proxy import HANDSHAKE, assert_exits_cleanly
from ws_frames import OP_CLOSE, OP_TEXT, RawClient, close_payload, send_from_server, serve_upgrade

RESULT_TIMEOUT_S = 15.0
WS_ROUTE = """
routes:
  - name: ws
    path: /ws
    websocket: {}
"""


def take(results: queue.Queue):
    try:
        return results.get(timeout=RESULT_TIMEOUT_S)
    except queue.Empty:
        raise AssertionError("the upstream handler reported nothing in time") from None


def upstream_timeouts(sluice) -> int:
    text = get(sluice.admin_port, "/metrics").body.decode()
    values = re.findall(r"^sluice_upstream_timeouts_total(?:\{[^}]*\})?\s+(\S+)", text, re.M)
    assert values, "no sluice_upstream_timeouts_total in /metrics"
    return sum(int(float(v)) for v in values)


def test_upgrade_the_upstream_never_answers_gets_504_json_and_counts(launcher, fake_upstream):
    got_request = queue.Queue()

    def silent(upstream, conn, index):
        head, _, _ = upstream.next_request(conn, index, b"")
        got_request.put(head)
        # Say nothing; wait for sluice to give up (it closes the connection).
        while upstream.recv(conn, index):
            pass

    upstream = fake_upstream(silent)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE,
                                                 upstream_extra="response_timeout: 1s"))
    before = upstream_timeouts(sluice)
    res = get(sluice.port, "/ws", "127.0.8.1", headers=HANDSHAKE)
    assert res.status == 504, (res.status, res.body)
    assert res.header("Content-Type") == "application/json"
    doc = res.json()
    assert "in time" in doc["error"], doc
    assert doc["request_id"] == res.header("X-Request-Id")
    assert take(got_request).startswith(b"GET /ws HTTP/1.1")
    assert upstream_timeouts(sluice) == before + 1
    assert_exits_cleanly(launcher, sluice)


def test_upstream_refusal_keeps_its_content_type(launcher, fake_upstream):
    def refuse(upstream, conn, index):
        upstream.next_request(conn, index, b"")
        body = b"forbidden here\n"
        conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     b"X-Upstream: refused\r\nContent-Length: " + str(len(body)).encode() +
                     b"\r\n\r\n" + body)
        while upstream.recv(conn, index):
            pass

    upstream = fake_upstream(refuse)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE))
    res = get(sluice.port, "/ws", "127.0.8.2", headers=HANDSHAKE)
    assert res.status == 403, res.body
    assert res.headers.get_all("Content-Type") == ["text/plain; charset=utf-8"]
    assert res.body == b"forbidden here\n"
    assert res.header("X-Upstream") == "refused"
    assert res.header("X-Request-Id")
    assert_exits_cleanly(launcher, sluice)


def test_no_server_or_user_agent_of_beasts_on_either_handshake(launcher, fake_upstream):
    requests = queue.Queue()

    def serve(upstream, conn, index):
        head, fields, reader = serve_upgrade(upstream, conn, index)
        requests.put(fields)
        got = reader.data_or_close()
        if got is not None and got.opcode == OP_TEXT:
            send_from_server(conn, OP_TEXT, got.payload)
            got = reader.data_or_close()
        send_from_server(conn, OP_CLOSE, close_payload(1000))
        conn.shutdown(socket.SHUT_WR)
        reader.until_eof()

    upstream = fake_upstream(serve)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE))
    # A client with no User-Agent: the upstream sees none either.
    client = RawClient(sluice.port, "/ws", "127.0.8.3")
    try:
        assert client.status == 101, client.status_line
        names = [name.lower() for name, _ in client.ordered]
        assert "server" not in names, client.ordered
        assert "x-request-id" in names
        fields = take(requests)
        assert "user-agent" not in fields, fields
        client.send(OP_TEXT, b"hello")
        echo = client.reader.data_or_close()
        assert (echo.opcode, echo.payload) == (OP_TEXT, b"hello")
        client.send(OP_CLOSE, close_payload(1000))
        assert [f.opcode for f in client.reader.until_eof()] == [OP_CLOSE]
    finally:
        client.close()
    # A client's own User-Agent is end to end: it goes through as sent.
    client = RawClient(sluice.port, "/ws", "127.0.8.4", headers={"User-Agent": "test-client/1"})
    try:
        assert client.status == 101
        assert take(requests)["user-agent"] == "test-client/1"
        client.send(OP_CLOSE, close_payload(1000))
        client.reader.until_eof()
    finally:
        client.close()
    assert_exits_cleanly(launcher, sluice)


def test_the_stubs_101_passes_with_no_beast_server_field(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    sluice = launcher.start_sluice(sluice_config(stub.port, WS_ROUTE))
    client = RawClient(sluice.port, "/ws", "127.0.8.5")
    try:
        assert client.status == 101
        servers = [value for name, value in client.ordered if name.lower() == "server"]
        # The upstream's own Server field is end to end; nothing of Beast's is added.
        assert all("Beast" not in v for v in servers), servers
        client.send(OP_CLOSE, close_payload(1000))
        client.reader.until_eof()
    finally:
        client.close()
    assert_exits_cleanly(launcher, sluice)


def test_a_key_that_is_not_16_bytes_of_base64_gets_400(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    sluice = launcher.start_sluice(sluice_config(stub.port, WS_ROUTE))
    for key in ("short", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ==x", "d*hlIHNhbXBsZSBub25jZQ=="):
        res = get(sluice.port, "/ws", "127.0.8.6", headers={**HANDSHAKE, "Sec-WebSocket-Key": key})
        assert res.status == 400, (key, res.status)
        assert "Sec-WebSocket-Key" in res.json()["error"]
    assert_exits_cleanly(launcher, sluice)
