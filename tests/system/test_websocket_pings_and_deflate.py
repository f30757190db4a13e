"""Pings and compression of WebSockets through sluice:

- pings and pongs are end to end: an upstream's ping reaches the client and only the client's pong
  goes back (sluice does not answer for it, so an upstream heartbeat can tell a dead client), and a
  client's ping reaches the upstream, whose pong comes back; pings and pongs keep idle_timeout off;
- permessage-deflate is negotiated with each side on its own: a client that offers it gets it
  whether or not the upstream does, a client that does not gets plain frames even from an upstream
  that compresses, and messages arrive byte-exact in every combination; compression.enabled: false
  turns it off on both sides;
- a compressed message counts its decompressed size: a 64 MiB bomb of a few KiB gets 1009, and
  sluice's peak memory does not grow by anything like its size.

Frame order on the wire is read with ws_frames.py (a library would answer pings itself or hide
which frame came first). Every wait has a deadline.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import socket
import time
import zlib

import websockets
from websockets.exceptions import ConnectionClosed

from conftest import sluice_config
from test_websocket_proxy import (KiB, MiB, RECV_TIMEOUT_S, assert_exits_cleanly, connect, random_text,
                                  recv, recv_close, run, start, stub_log_line)
from ws_frames import (OP_BINARY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, RawClient, close_payload,
                       deflate_message, parse_close, send_from_server, serve_upgrade)

RESULT_TIMEOUT_S = 15.0
WS_ROUTE = """
routes:
  - name: ws
    path: /ws
    websocket: {%s}
"""
DEFLATE_OFFER = "permessage-deflate; client_max_window_bits"


def take(results: queue.Queue):
    try:
        return results.get(timeout=RESULT_TIMEOUT_S)
    except queue.Empty:
        raise AssertionError("the upstream handler reported nothing in time") from None


def inflate_message(payload: bytes) -> bytes:
    return zlib.decompressobj(-15).decompress(payload + b"\x00\x00\xff\xff")


# --------------------------------------------------------------------------------------------
# Pings and pongs


def test_upstream_ping_reaches_the_client_and_only_its_pong_returns(launcher, fake_upstream):
    results: queue.Queue = queue.Queue()

    def serve(upstream, conn, index):
        _, _, reader = serve_upgrade(upstream, conn, index)
        send_from_server(conn, OP_PING, b"heartbeat-1")
        # The client sends a text before its pong: had sluice answered the ping itself, that pong
        # would come first.
        results.put([reader.frame(), reader.frame()])
        send_from_server(conn, OP_CLOSE, close_payload(1000))
        conn.shutdown(socket.SHUT_WR)
        reader.until_eof()

    upstream = fake_upstream(serve)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE % ""))
    client = RawClient(sluice.port, "/ws", "127.0.9.1")
    try:
        ping = client.frame()
        assert (ping.opcode, ping.payload) == (OP_PING, b"heartbeat-1"), ping
        client.send(OP_TEXT, b"still here")
        client.send(OP_PONG, ping.payload)
        frames = take(results)
        assert [(f.opcode, f.payload) for f in frames] == [(OP_TEXT, b"still here"),
                                                           (OP_PONG, b"heartbeat-1")], frames
        close = client.reader.data_or_close()
        assert close.opcode == OP_CLOSE
        client.send(OP_CLOSE, close.payload)
        assert client.reader.until_eof() == []
    finally:
        client.close()
    assert_exits_cleanly(launcher, sluice)


def test_client_ping_reaches_the_upstream_and_its_pong_comes_back(launcher, fake_upstream):
    results: queue.Queue = queue.Queue()

    def serve(upstream, conn, index):
        _, _, reader = serve_upgrade(upstream, conn, index)
        ping = reader.frame()
        results.put(ping)
        # A text first, then the pong: a pong from sluice would have overtaken it.
        send_from_server(conn, OP_TEXT, b"before the pong")
        send_from_server(conn, OP_PONG, ping.payload if ping else b"")
        results.put(reader.data_or_close())
        send_from_server(conn, OP_CLOSE, close_payload(1000))
        conn.shutdown(socket.SHUT_WR)
        reader.until_eof()

    upstream = fake_upstream(serve)
    sluice = launcher.start_sluice(sluice_config(upstream.port, WS_ROUTE % ""))
    client = RawClient(sluice.port, "/ws", "127.0.9.2")
    try:
        client.send(OP_PING, b"are you there")
        ping = take(results)
        assert (ping.opcode, ping.payload) == (OP_PING, b"are you there"), ping
        frames = [client.frame(), client.frame()]
        assert [(f.opcode, f.payload) for f in frames] == [(OP_TEXT, b"before the pong"),
                                                           (OP_PONG, b"are you there")], frames
        client.send(OP_CLOSE, close_payload(1000))
        assert take(results).opcode == OP_CLOSE
        assert [f.opcode for f in client.reader.until_eof()] == [OP_CLOSE]
    finally:
        client.close()
    assert_exits_cleanly(launcher, sluice)


def test_pings_and_pongs_keep_idle_timeout_off(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "idle_timeout: 1s")

    async def body():
        async with connect(sluice, "/ws", "127.0.9.3") as ws:
            # 2.4 s of pings, then 2.4 s of unsolicited pongs, each 0.4 s apart: never 1 s idle.
            for i in range(6):
                await asyncio.sleep(0.4)
                await asyncio.wait_for(await ws.ping(f"p{i}".encode()), RECV_TIMEOUT_S)
            for i in range(6):
                await asyncio.sleep(0.4)
                await ws.pong(f"q{i}".encode())
            assert ws.open
            await ws.send("still open")
            assert await recv(ws) == "still open"
            # Then nothing: closed with 1001 about a second later.
            started = time.monotonic()
            closed, _ = await recv_close(ws, 5.0)
            assert closed.rcvd is not None and closed.rcvd.code == 1001, closed
            assert 0.8 <= time.monotonic() - started <= 3.0

    run(body())
    assert_exits_cleanly(launcher, sluice)


# --------------------------------------------------------------------------------------------
# permessage-deflate


async def negotiation_case(launcher, client_offers: bool, upstream_compresses: bool,
                           sluice_keys: str = "") -> tuple[list, str, str]:
    """One client against one python-websockets upstream, through a sluice of its own. Returns
    (the client's extensions, the upstream's, what sluice offered the upstream)."""
    upstream_saw = {}

    async def handler(ws, path):
        upstream_saw["offer"] = ws.request_headers.get("Sec-WebSocket-Extensions", "")
        upstream_saw["extensions"] = [type(e).__name__ for e in ws.extensions]
        try:
            async for message in ws:
                await ws.send(message)
        except ConnectionClosed:
            pass

    server = await websockets.serve(handler, "127.0.0.1", 0, ping_interval=None, max_size=None,
                                    compression="deflate" if upstream_compresses else None)
    try:
        port = server.sockets[0].getsockname()[1]
        sluice = await asyncio.to_thread(launcher.start_sluice,
                                         sluice_config(port, WS_ROUTE % sluice_keys))
        async with connect(sluice, "/ws", "127.0.10.1",
                           compression="deflate" if client_offers else None) as ws:
            client_ext = [type(e).__name__ for e in ws.extensions]
            text = random_text(10) * (20 * KiB)  # compressible
            binary = os.urandom(50 * KiB)
            for message in (text, binary, "", b"", "tëxt ✓" * 1000):
                await ws.send(message)
                echo = await recv(ws)
                assert type(echo) is type(message) and echo == message, (len(message), client_ext)
            # A fragmented message too.
            await ws.send(iter(["frag", "mented ", "x" * 70000]))
            assert await recv(ws) == "fragmented " + "x" * 70000
        await asyncio.to_thread(assert_exits_cleanly, launcher, sluice)
    finally:
        server.close()
        await server.wait_closed()
    return client_ext, upstream_saw.get("extensions"), upstream_saw.get("offer")


def test_deflate_is_negotiated_with_each_side_on_its_own(launcher):
    async def body():
        deflate = "PerMessageDeflate"
        for client_offers in (True, False):
            for upstream_compresses in (True, False):
                client_ext, upstream_ext, offer = await negotiation_case(
                    launcher, client_offers, upstream_compresses)
                case = (client_offers, upstream_compresses)
                assert client_ext == ([deflate] if client_offers else []), case
                assert upstream_ext == ([deflate] if upstream_compresses else []), case
                # sluice makes its own offer to the upstream, whatever the client offered.
                assert offer.startswith("permessage-deflate"), (case, offer)
                assert "server_no_context_takeover" in offer
        # Turned off: neither side gets it.
        client_ext, upstream_ext, offer = await negotiation_case(
            launcher, True, True, "compression: {enabled: false}")
        assert (client_ext, upstream_ext, offer) == ([], [], "")

    run(body())


def test_deflate_with_the_stub_compressing_too(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0", "--ws-deflate"],
                         WS_ROUTE % "max_message_size: 2MiB")

    async def body():
        async with connect(sluice, "/ws", "127.0.10.2") as ws:
            assert [type(e).__name__ for e in ws.extensions] == ["PerMessageDeflate"]
            for size in (0, 1, 1000, 300 * KiB, MiB):
                text = random_text(size)
                await ws.send(text)
                assert await recv(ws) == text
                binary = os.urandom(size)
                await ws.send(binary)
                assert await recv(ws) == binary

    run(body())
    assert_exits_cleanly(launcher, sluice)


def test_compressed_frames_on_the_wire_both_ways(launcher):
    """A client that offers deflate sends a compressed message and gets its echo compressed
    (RSV1 set, raw deflate that inflates to the message); one that does not gets plain frames."""
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "")
    message = b'{"cpu": 12.5, "memory": 40.1}' * 500
    client = RawClient(sluice.port, "/ws", "127.0.10.3", extensions=DEFLATE_OFFER)
    try:
        answer = client.fields["sec-websocket-extensions"]
        assert answer.startswith("permessage-deflate"), answer
        assert "server_no_context_takeover" in answer and "client_no_context_takeover" in answer
        client.send(OP_TEXT, deflate_message(message), rsv1=True)
        frames = []
        while not frames or not frames[-1].fin:
            frames.append(client.frame())
        assert frames[0].rsv1 and frames[0].opcode == OP_TEXT, frames
        packed = b"".join(f.payload for f in frames)
        assert len(packed) < len(message) // 4
        assert inflate_message(packed) == message
        client.send(OP_CLOSE, close_payload(1000))
        assert [f.opcode for f in client.reader.until_eof()] == [OP_CLOSE]
    finally:
        client.close()
    plain = RawClient(sluice.port, "/ws", "127.0.10.4")
    try:
        assert "sec-websocket-extensions" not in plain.fields
        plain.send(OP_BINARY, message)
        got = b""
        while True:
            f = plain.frame()
            assert not f.rsv1
            got += f.payload
            if f.fin:
                break
        assert got == message
        plain.send(OP_CLOSE, close_payload(1000))
        plain.reader.until_eof()
    finally:
        plain.close()
    assert_exits_cleanly(launcher, sluice)


def test_a_compressed_bomb_gets_1009_not_memory(launcher):
    stub, sluice = start(launcher, ["--ws-interval", "0"], WS_ROUTE % "max_message_size: 1MiB")
    bomb = deflate_message(b"\0" * (64 * MiB))
    assert len(bomb) < 128 * KiB
    # Warm up: one ordinary WebSocket, so the peak below is the bomb's alone.
    warm = RawClient(sluice.port, "/ws", "127.0.10.5", extensions=DEFLATE_OFFER)
    warm.send(OP_TEXT, deflate_message(b"warm"), rsv1=True)
    assert warm.reader.data_or_close().opcode == OP_TEXT
    warm.send(OP_CLOSE, close_payload(1000))
    warm.reader.until_eof()
    warm.close()
    peak_before = sluice.rss_hwm_kib()
    for i in range(3):
        client = RawClient(sluice.port, "/ws", f"127.0.10.{6 + i}", extensions=DEFLATE_OFFER)
        try:
            client.send(OP_BINARY, bomb, rsv1=True)
            close = client.reader.data_or_close()
            assert close is not None and close.opcode == OP_CLOSE, close
            assert parse_close(close.payload)[0] == 1009, close
            client.send(OP_CLOSE, close.payload)
            assert client.reader.until_eof() == []
        finally:
            client.close()
    growth_kib = sluice.rss_hwm_kib() - peak_before
    assert growth_kib < 8 * 1024, f"peak RSS grew by {growth_kib} KiB for a 64 MiB bomb"
    assert stub_log_line(stub, r"websocket /ws closed by client 1009\b"), stub.stderr_text()
    assert_exits_cleanly(launcher, sluice)
