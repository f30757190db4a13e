"""WebSockets through sluice close as RFC 6455 7 asks, measured with real clients and with frames
written by hand:

- a close sluice starts (1009 for a message over max_message_size, 1008 over messages_per_ip)
  reaches the client every time: sluice keeps reading after its close frame until the client's
  close and FIN, so no reset destroys the frame in the client's receive buffer;
- a message over max_message_size from the upstream closes the client with 1009 too;
- close codes no endpoint may send (0-999, 1004, 1005, 1006, 1015, 1016-2999, 5000 and up) are
  refused with 1002, from either side;
- a close is relayed end to end: the other side's answer, code and reason, comes back as that side
  sent it, both ways; a close without a code stays without one.

Real clients: Debian's python3-websockets 10.4; raw frames from ws_frames.py where a library would
refuse (invalid codes, an empty close) or hide (the answer's reason, frame order). Every wait has
a deadline, every loop a bound.
"""

from __future__ import annotations

import asyncio
import os
import queue
import socket

import websockets
from websockets.exceptions import ConnectionClosed

from conftest import sluice_config
from test_websocket_proxy import (KiB, RECV_TIMEOUT_S, assert_exits_cleanly, connect, recv,
                                  recv_close, run, start, stub_log_line, wait_counts)
from ws_frames import (OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawClient, close_payload,
                       encode_frame, parse_close, send_from_server, serve_upgrade)

# Repetitions of a close that used to be lost about half the time.
TRIALS = 15
# How long a handler thread's result may take to arrive.
RESULT_TIMEOUT_S = 15.0

WS_ROUTE = """
routes:
  - name: ws
    path: /ws
    websocket: {%s}
"""


def fake_ws_upstream(launcher, fake_upstream, serve, websocket_keys: str = ""):
    """A hand-written upstream (`serve(upstream, conn, index)` per connection) and sluice in front."""
    upstream = fake_upstream(serve)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE % websocket_keys))
    return upstream, sluice


def take(results: queue.Queue):
    """The next result a handler thread put (bounded wait)."""
    try:
        return results.get(timeout=RESULT_TIMEOUT_S)
    except queue.Empty:
        raise AssertionError("the upstream handler reported nothing in time") from None


# --------------------------------------------------------------------------------------------
# Closes sluice starts reach the client


def test_oversized_client_message_gets_1009_every_time(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "max_message_size: 64KiB")

    async def body():
        codes = []
        for trial in range(TRIALS):
            async with connect(sluice, "/ws", f"127.0.1.{trial + 1}") as ws:
                await ws.send("fits")
                assert await recv(ws) == "fits"
                try:
                    await asyncio.wait_for(ws.send(os.urandom(1024 * KiB)), RECV_TIMEOUT_S)
                except ConnectionClosed:
                    pass  # the close may come while the message is still going out
                closed, _ = await recv_close(ws)
                codes.append(closed.rcvd.code if closed.rcvd else None)
        assert codes == [1009] * TRIALS, codes
        await wait_counts(sluice, "ws", stub, 0)

    run(body())
    # The upstream was told too, with a close frame of its own.
    assert stub_log_line(stub, r"websocket /ws closed by client 1009\b"), stub.stderr_text()
    assert_exits_cleanly(launcher, sluice)


def test_message_rate_close_gets_1008_every_time(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"],
                         WS_ROUTE % "messages_per_ip: 5/second, on_message_limit: close")

    async def body():
        codes = []
        for trial in range(TRIALS):
            async with connect(sluice, "/ws", f"127.0.2.{trial + 1}") as ws:
                try:
                    for i in range(40):
                        await asyncio.wait_for(ws.send(f"m{i}" * 1000), RECV_TIMEOUT_S)
                except ConnectionClosed:
                    pass
                closed, _ = await recv_close(ws)
                codes.append(closed.rcvd.code if closed.rcvd else None)
        assert codes == [1008] * TRIALS, codes
        await wait_counts(sluice, "ws", stub, 0)

    run(body())
    assert_exits_cleanly(launcher, sluice)


def test_oversized_upstream_message_gets_the_client_1009(launcher):
    async def body():
        upstream_saw = asyncio.get_running_loop().create_future()

        async def handler(ws, path):
            await ws.send(b"u" * (100 * KiB))  # over the 64 KiB cap
            try:
                await asyncio.wait_for(ws.recv(), RECV_TIMEOUT_S)
            except ConnectionClosed as closed:
                upstream_saw.set_result(closed.rcvd.code if closed.rcvd else None)

        server = await websockets.serve(handler, "127.0.0.1", 0, compression=None, max_size=None,
                                        ping_interval=None)
        try:
            port = server.sockets[0].getsockname()[1]
            sluice = await asyncio.to_thread(launcher.start_sluice, sluice_config(
                port, WS_ROUTE % "max_message_size: 64KiB"))
            for trial in range(5):
                async with connect(sluice, "/ws", f"127.0.3.{trial + 1}") as ws:
                    closed, messages = await recv_close(ws)
                    assert messages == []
                    assert closed.rcvd is not None and closed.rcvd.code == 1009, closed
            assert await asyncio.wait_for(upstream_saw, RECV_TIMEOUT_S) == 1009
        finally:
            server.close()
            await server.wait_closed()
        return sluice

    sluice = run(body())
    assert_exits_cleanly(launcher, sluice)


# --------------------------------------------------------------------------------------------
# Invalid close codes

INVALID_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]


def test_invalid_close_codes_from_the_client_get_1002(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "")
    for i, code in enumerate(INVALID_CODES):
        client = RawClient(sluice.port, "/ws", f"127.0.4.{i + 1}")
        try:
            assert client.status == 101, client.status_line
            client.send(OP_CLOSE, close_payload(code, b"bad"))
            # sluice's answer, then its FIN: nothing else, and no reset.
            frames = client.reader.until_eof()
            assert [f.opcode for f in frames] == [OP_CLOSE], (code, frames)
            assert parse_close(frames[0].payload)[0] == 1002, (code, frames)
        finally:
            client.close()
    # A close frame of one byte and a reason that is not UTF-8 are refused the same way.
    for i, (payload, expected) in enumerate([(b"\x03", 1002), (close_payload(1000, b"\xc3\x28"), 1007)]):
        client = RawClient(sluice.port, "/ws", f"127.0.4.{100 + i}")
        try:
            client.send(OP_CLOSE, payload)
            frames = client.reader.until_eof()
            assert [parse_close(f.payload)[0] for f in frames] == [expected], frames
        finally:
            client.close()
    # The upstream was closed properly, with sluice's own going-away.
    assert stub_log_line(stub, r"websocket /ws closed by client 1001\b"), stub.stderr_text()
    asyncio.run(wait_counts(sluice, "ws", stub, 0))
    assert_exits_cleanly(launcher, sluice)


def test_frames_rfc_6455_forbids_get_1002_and_bad_utf8_1007(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "")
    cases = [
        ("unmasked", encode_frame(OP_TEXT, b"hi", mask=False), 1002),
        ("reserved opcode", encode_frame(0x3, b"x"), 1002),
        ("RSV1 not negotiated", encode_frame(OP_TEXT, b"x", rsv1=True), 1002),
        ("continuation first", encode_frame(OP_CONT, b"x"), 1002),
        ("new message inside one", encode_frame(OP_TEXT, b"a", fin=False) + encode_frame(OP_TEXT, b"b"), 1002),
        ("fragmented ping", encode_frame(OP_PING, b"p", fin=False), 1002),
        ("text not UTF-8", encode_frame(OP_TEXT, b"ok \xc3\x28"), 1007),
        ("text not UTF-8 across frames", encode_frame(OP_TEXT, b"\xe2\x9c", fin=False) +
         encode_frame(OP_CONT, b"x"), 1007),
    ]
    for i, (what, wire, expected) in enumerate(cases):
        client = RawClient(sluice.port, "/ws", f"127.0.4.{200 + i}")
        try:
            client.sock.sendall(wire)
            close = client.reader.data_or_close()
            assert close is not None and close.opcode == OP_CLOSE, (what, close)
            assert parse_close(close.payload)[0] == expected, (what, close)
            client.send(OP_CLOSE, close.payload)
            client.reader.until_eof()
        finally:
            client.close()
    # A ping between the fragments of a message is fine, and goes through between them.
    client = RawClient(sluice.port, "/ws", "127.0.4.250")
    try:
        client.sock.sendall(encode_frame(OP_TEXT, b"frag", fin=False) + encode_frame(OP_PING, b"mid") +
                            encode_frame(OP_CONT, b"mented"))
        frames = [client.frame(), client.frame()]
        assert sorted((f.opcode, f.payload) for f in frames if f.opcode == OP_PONG) == [(OP_PONG, b"mid")]
        text = b""
        f = next(f for f in frames if f.opcode != OP_PONG)
        text += f.payload
        while not f.fin:
            f = client.frame()
            text += f.payload
        assert text == b"fragmented"
        client.send(OP_CLOSE, close_payload(1000))
        client.reader.until_eof()
    finally:
        client.close()
    assert_exits_cleanly(launcher, sluice)


def test_invalid_close_codes_from_the_upstream_get_1002(launcher, fake_upstream):
    results: queue.Queue = queue.Queue()

    def serve(upstream, conn, index):
        _, _, reader = serve_upgrade(upstream, conn, index)
        code = INVALID_CODES[index % len(INVALID_CODES)]
        send_from_server(conn, OP_CLOSE, close_payload(code, b"bad"))
        answer = reader.frame()
        results.put((code, answer))
        conn.shutdown(socket.SHUT_WR)  # the server closes TCP first
        reader.until_eof()

    _, sluice = fake_ws_upstream(launcher, fake_upstream, serve)

    async def body():
        for i in range(len(INVALID_CODES)):
            async with connect(sluice, "/ws", f"127.0.5.{i + 1}") as ws:
                closed, _ = await recv_close(ws)
                assert closed.rcvd is not None and closed.rcvd.code == 1001, closed
            code, answer = await asyncio.to_thread(take, results)
            assert answer is not None and answer.opcode == OP_CLOSE, (code, answer)
            assert parse_close(answer.payload)[0] == 1002, (code, answer)

    run(body())
    assert_exits_cleanly(launcher, sluice)


# --------------------------------------------------------------------------------------------
# End-to-end closes


def test_close_code_and_reason_round_trip_both_ways(launcher, fake_upstream):
    results: queue.Queue = queue.Queue()

    def serve(upstream, conn, index):
        _, _, reader = serve_upgrade(upstream, conn, index)
        if index == 0:
            # The client closes: the upstream answers with a reason of its own.
            got = reader.data_or_close()
            results.put(("client's close", got))
            send_from_server(conn, OP_CLOSE, close_payload(4000, b"done, said the upstream"))
        else:
            # The upstream closes: the client's answer must arrive exactly as the client sent it.
            send_from_server(conn, OP_TEXT, b"before the close")
            send_from_server(conn, OP_CLOSE, close_payload(4001, b"bye from upstream"))
            results.put(("client's answer", reader.data_or_close()))
        conn.shutdown(socket.SHUT_WR)
        results.put(("after", reader.until_eof()))

    _, sluice = fake_ws_upstream(launcher, fake_upstream, serve)

    async def body():
        async with connect(sluice, "/ws", "127.0.6.1") as ws:
            await asyncio.wait_for(ws.close(code=4000, reason="done"), RECV_TIMEOUT_S)
            assert (ws.close_code, ws.close_reason) == (4000, "done, said the upstream")
        what, got = await asyncio.to_thread(take, results)
        assert what == "client's close" and got.opcode == OP_CLOSE, got
        assert parse_close(got.payload) == (4000, b"done"), got
        what, after = await asyncio.to_thread(take, results)
        assert after == [], after

    run(body())

    client = RawClient(sluice.port, "/ws", "127.0.6.2")
    try:
        first = client.reader.data_or_close()
        assert (first.opcode, first.payload) == (OP_TEXT, b"before the close")
        close = client.reader.data_or_close()
        assert close.opcode == OP_CLOSE
        assert parse_close(close.payload) == (4001, b"bye from upstream")
        client.send(OP_CLOSE, close_payload(4001, b"the client's own answer"))
        assert client.reader.until_eof() == []
    finally:
        client.close()
    what, answer = take(results)
    assert what == "client's answer" and answer.opcode == OP_CLOSE, answer
    assert parse_close(answer.payload) == (4001, b"the client's own answer")
    assert_exits_cleanly(launcher, sluice)


def test_close_without_a_code_stays_without_one(launcher, fake_upstream):
    results: queue.Queue = queue.Queue()

    def serve(upstream, conn, index):
        _, _, reader = serve_upgrade(upstream, conn, index)
        got = reader.data_or_close()
        results.put(got)
        send_from_server(conn, OP_CLOSE, b"")
        conn.shutdown(socket.SHUT_WR)
        reader.until_eof()

    _, sluice = fake_ws_upstream(launcher, fake_upstream, serve)
    client = RawClient(sluice.port, "/ws", "127.0.7.1")
    try:
        client.send(OP_CLOSE, b"")
        frames = client.reader.until_eof()
        assert [(f.opcode, f.payload) for f in frames] == [(OP_CLOSE, b"")], frames
    finally:
        client.close()
    got = take(results)
    assert (got.opcode, got.payload) == (OP_CLOSE, b""), got

    # The same against the stub (Beast): it is given no code, and its answer (Beast answers an
    # empty close with 1000) comes back as it sent it.
    stub = launcher.start_stub("--ws-interval", "0")
    sluice2 = launcher.start_sluice(sluice_config(stub.port, WS_ROUTE % ""))
    client = RawClient(sluice2.port, "/ws", "127.0.7.2")
    try:
        client.send(OP_CLOSE, b"")
        frames = client.reader.until_eof()
        assert [(f.opcode, parse_close(f.payload)) for f in frames] == [(OP_CLOSE, (1000, b""))], frames
    finally:
        client.close()
    assert stub_log_line(stub, r"websocket /ws closed by client no code"), stub.stderr_text()
    assert_exits_cleanly(launcher, sluice)
    assert_exits_cleanly(launcher, sluice2)
