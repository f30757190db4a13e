"""upstream-stub's WebSocket endpoints, asked directly (no sluice): /ws, /api/system/ws (token from
/api/auth/login), /api/system/metrics, and the /api/ws/stats counts.

Uses Debian's python3-websockets 10.4 (its asyncio `websockets.connect`). Every wait has a deadline:
each receive is wrapped in asyncio.wait_for, and each test body runs under one overall timeout.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import string
import time

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatusCode

from conftest import get, request

# Longest any single receive may take; the stub answers on loopback in milliseconds.
RECV_TIMEOUT_S = 10.0
# Longest a whole test body may run.
TEST_TIMEOUT_S = 60.0
# What the stub reads (and echoes) at most; one byte more is refused with 1009.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
# The keys of GET /api/system/stats, which every pushed message carries too.
STATS_KEYS = {"success", "timestamp", "cpu", "memory", "disk"}
JSON = {"Content-Type": "application/json"}


def run(coro):
    """Runs one test body under the overall deadline."""
    return asyncio.run(asyncio.wait_for(coro, TEST_TIMEOUT_S))


def ws_url(proc, path: str) -> str:
    return f"ws://127.0.0.1:{proc.port}{path}"


def connect(proc, path: str, **kwargs):
    """A client without keep-alive pings (the test decides what is sent) and no size cap."""
    kwargs.setdefault("max_size", None)
    kwargs.setdefault("ping_interval", None)
    kwargs.setdefault("open_timeout", RECV_TIMEOUT_S)
    kwargs.setdefault("close_timeout", RECV_TIMEOUT_S)
    return websockets.connect(ws_url(proc, path), **kwargs)


async def recv(ws, timeout: float = RECV_TIMEOUT_S):
    return await asyncio.wait_for(ws.recv(), timeout)


async def recv_close(ws) -> ConnectionClosed:
    """Receives until the connection closes (bounded); returns the ConnectionClosed raised."""
    end = time.monotonic() + RECV_TIMEOUT_S
    while time.monotonic() < end:
        try:
            await recv(ws, max(0.1, end - time.monotonic()))
        except ConnectionClosed as closed:
            return closed
    raise AssertionError("the connection did not close")


def ws_stats(proc) -> dict:
    res = get(proc.port, "/api/ws/stats")
    assert res.status == 200, res.body
    return res.json()


def wait_open_count(proc, expected: int, deadline_s: float = 10.0) -> dict:
    """Polls /api/ws/stats until `open` is `expected` (bounded)."""
    end = time.monotonic() + deadline_s
    doc = ws_stats(proc)
    while doc["open"] != expected and time.monotonic() < end:
        time.sleep(0.05)
        doc = ws_stats(proc)
    return doc


def login_token(proc) -> str:
    creds = json.dumps({"username": "ws-user", "password": "secret"}).encode()
    assert request(proc.port, "POST", "/api/auth/register", body=creds, headers=JSON).status == 201
    login = request(proc.port, "POST", "/api/auth/login", body=creds, headers=JSON)
    assert login.status == 200, login.body
    token = login.json()["token"]
    assert token
    return token


def assert_stats_message(message) -> dict:
    assert isinstance(message, str), type(message)
    doc = json.loads(message)
    assert STATS_KEYS <= set(doc), doc
    assert doc["success"] is True
    assert 0.0 <= doc["cpu"]["usage_percent"] <= 100.0
    return doc


def random_text(n: int) -> str:
    """`n` bytes of UTF-8: ASCII letters and digits."""
    rng = random.Random(n)
    return "".join(rng.choices(string.ascii_letters + string.digits, k=n))


# --------------------------------------------------------------------------------------------
# Streaming


def test_stats_pushed_at_the_interval_on_every_endpoint(launcher):
    stub = launcher.start_stub("--ws-interval", "0.25")
    token = login_token(stub)
    http_doc = get(stub.port, "/api/system/stats").json()

    async def body():
        for path, headers in [("/ws", None), ("/api/system/metrics", None),
                              ("/api/system/ws", {"Authorization": f"Bearer {token}"})]:
            async with connect(stub, path, extra_headers=headers) as ws:
                arrivals = []
                for _ in range(4):
                    doc = assert_stats_message(await recv(ws))
                    arrivals.append(time.monotonic())
                    # Same document as the HTTP endpoint, figure for figure in shape.
                    assert set(doc) == set(http_doc)
                    assert set(doc["cpu"]) == set(http_doc["cpu"])
                    assert set(doc["memory"]) == set(http_doc["memory"])
                gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
                # 0.25 s apart; generous bounds for a loaded machine, but not "as fast as possible"
                # and not "once a second".
                assert all(0.12 <= gap <= 0.9 for gap in gaps), (path, gaps)

    run(body())


def test_interval_zero_pushes_nothing(launcher):
    stub = launcher.start_stub("--ws-interval", "0")

    async def body():
        async with connect(stub, "/ws") as ws:
            with pytest.raises(asyncio.TimeoutError):
                await recv(ws, 0.6)
            await ws.send("ping?")
            assert await recv(ws) == "ping?"

    run(body())


# --------------------------------------------------------------------------------------------
# Echo


@pytest.mark.parametrize("size", [0, 125, 64 * 1024, 1024 * 1024])
def test_echo_is_byte_exact_and_keeps_the_type(launcher, size):
    stub = launcher.start_stub("--ws-interval", "0")
    binary = os.urandom(size)
    text = random_text(size)

    async def body():
        async with connect(stub, "/ws") as ws:
            await ws.send(binary)
            echoed = await recv(ws)
            assert isinstance(echoed, bytes)
            assert echoed == binary
            await ws.send(text)
            echoed = await recv(ws)
            assert isinstance(echoed, str)
            assert echoed == text
            # Several in flight at once come back in order.
            await ws.send(binary)
            await ws.send(text)
            await ws.send(binary)
            assert [await recv(ws) for _ in range(3)] == [binary, text, binary]

    run(body())


def test_echo_of_multibyte_text(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    text = "héllo wörld ✓ 🚀 " * 1000

    async def body():
        async with connect(stub, "/api/system/metrics") as ws:
            await ws.send(text)
            assert await recv(ws) == text

    run(body())


def test_sixteen_mib_echoed_and_one_byte_more_closed_with_1009(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    largest = os.urandom(MAX_MESSAGE_BYTES)

    async def body():
        async with connect(stub, "/ws") as ws:
            await ws.send(largest)
            echoed = await recv(ws, 30)
            assert echoed == largest
            try:
                await ws.send(largest + b"x")
            except ConnectionClosed:
                pass  # the stub may refuse it before the last byte is out
            closed = await recv_close(ws)
            assert closed.rcvd is not None and closed.rcvd.code == 1009, closed

    run(body())


def test_fragmented_message_echoed_whole(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    parts = [os.urandom(n) for n in (1, 0, 1000, 70000, 3)]
    text_parts = ["frag", "mented ", "", "tëxt ✓"]

    async def body():
        async with connect(stub, "/ws") as ws:
            await ws.send(iter(parts))
            echoed = await recv(ws)
            assert isinstance(echoed, bytes)
            assert echoed == b"".join(parts)
            await ws.send(iter(text_parts))
            echoed = await recv(ws)
            assert isinstance(echoed, str)
            assert echoed == "".join(text_parts)

    run(body())


def test_pings_are_answered(launcher):
    stub = launcher.start_stub("--ws-interval", "0")

    async def body():
        async with connect(stub, "/ws") as ws:
            for i in range(3):
                pong = await ws.ping(f"p{i}".encode())
                await asyncio.wait_for(pong, RECV_TIMEOUT_S)

    run(body())


# --------------------------------------------------------------------------------------------
# Close codes both ways


def test_client_close_code_is_echoed(launcher):
    stub = launcher.start_stub("--ws-interval", "0")

    async def body():
        async with connect(stub, "/ws") as ws:
            await ws.send("hello")
            assert await recv(ws) == "hello"
            await ws.close(code=4000, reason="done")
            # Beast answers a close with the same code (the reason is not repeated).
            assert ws.close_code == 4000

    run(body())
    assert wait_open_count(stub, 0)["open"] == 0


def test_close_command_closes_with_that_code_and_reason(launcher):
    stub = launcher.start_stub("--ws-interval", "0.2")

    async def body():
        async with connect(stub, "/api/system/metrics") as ws:
            await ws.send("close:4001:bye")
            closed = await recv_close(ws)
            assert closed.rcvd is not None, closed
            assert (closed.rcvd.code, closed.rcvd.reason) == (4001, "bye")
        async with connect(stub, "/ws") as ws:
            await ws.send("close:1000")
            closed = await recv_close(ws)
            assert (closed.rcvd.code, closed.rcvd.reason) == (1000, "")

    run(body())


@pytest.mark.parametrize("message", ["close:", "close:999:x", "close:1005:x", "close:abc:x",
                                     "close:5000:x", "close:4001:" + "r" * 124])
def test_malformed_close_command_is_echoed(launcher, message):
    stub = launcher.start_stub("--ws-interval", "0")

    async def body():
        async with connect(stub, "/ws") as ws:
            await ws.send(message)
            assert await recv(ws) == message
            # A binary message is never a command.
            await ws.send(b"close:4001:bye")
            assert await recv(ws) == b"close:4001:bye"

    run(body())


def test_client_that_does_not_read_is_closed_with_1008(launcher):
    stub = launcher.start_stub("--ws-interval", "0")
    chunk = os.urandom(1024 * 1024)

    async def body():
        # max_queue=1: the client stops reading from its socket after one unread message, so the
        # stub's echoes back up, as with a client that does not read.
        async with connect(stub, "/ws", max_queue=1) as ws:
            for _ in range(48):
                await asyncio.wait_for(ws.send(chunk), RECV_TIMEOUT_S)
            echoes = 0
            end = time.monotonic() + RECV_TIMEOUT_S
            while time.monotonic() < end:
                try:
                    message = await recv(ws, max(0.1, end - time.monotonic()))
                except ConnectionClosed as closed:
                    assert closed.rcvd is not None and closed.rcvd.code == 1008, closed
                    break
                assert message == chunk
                echoes += 1
            else:
                raise AssertionError("the stub did not close")
            assert echoes < 48

    run(body())
    assert wait_open_count(stub, 0)["open"] == 0


# --------------------------------------------------------------------------------------------
# Authentication


def test_system_ws_needs_a_login_token(launcher):
    stub = launcher.start_stub("--ws-interval", "0.2")

    # A plain GET gets the stub's usual JSON error body.
    refused = get(stub.port, "/api/system/ws")
    assert refused.status == 401
    assert "error" in refused.json()
    assert refused.header("WWW-Authenticate") == "Bearer"

    # So does a real handshake: answered, not upgraded.
    handshake = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}
    refused = get(stub.port, "/api/system/ws", headers=handshake)
    assert refused.status == 401
    assert refused.header("Content-Type") == "application/json"
    assert refused.json()["success"] is False and "error" in refused.json()

    token = login_token(stub)

    async def body():
        for headers, path in [(None, "/api/system/ws"),
                              ({"Authorization": "Bearer not-a-token"}, "/api/system/ws"),
                              ({"Authorization": f"Basic {token}"}, "/api/system/ws"),
                              (None, "/api/system/ws?token=nope")]:
            with pytest.raises(InvalidStatusCode) as refusal:
                async with connect(stub, path, extra_headers=headers):
                    pass
            assert refusal.value.status_code == 401, (headers, path)

        async with connect(stub, "/api/system/ws",
                           extra_headers={"Authorization": f"Bearer {token}"}) as ws:
            assert_stats_message(await recv(ws))
            await ws.send(b"\x00\x01")
            message = await recv(ws)
            while isinstance(message, str):  # stats pushed meanwhile
                message = await recv(ws)
            assert message == b"\x00\x01"
        async with connect(stub, f"/api/system/ws?token={token}") as ws:
            assert_stats_message(await recv(ws))

    run(body())
    # Refused handshakes were never WebSockets.
    assert wait_open_count(stub, 0) == {"open": 0, "total": 2}


def test_plain_get_gets_426(launcher):
    stub = launcher.start_stub()
    for path in ["/ws", "/api/system/metrics"]:
        res = get(stub.port, path)
        assert res.status == 426
        assert res.header("Upgrade") == "websocket"
        assert "error" in res.json()
    assert ws_stats(stub) == {"open": 0, "total": 0}


# --------------------------------------------------------------------------------------------
# Many clients, counts, shutdown


def test_hundred_concurrent_clients_each_get_stats(launcher):
    # Several threads: each WebSocket's reader, writer and pacer must still share one strand.
    stub = launcher.start_stub("--ws-interval", "0.5", "--threads", "4")
    clients = 100

    async def body():
        stack = []
        try:
            opened = await asyncio.gather(*(connect(stub, "/ws") for _ in range(clients)))
            stack.extend(opened)
            messages = await asyncio.gather(*(recv(ws) for ws in opened))
            for message in messages:
                assert_stats_message(message)
            doc = await asyncio.to_thread(ws_stats, stub)
            assert doc["open"] == clients, doc
        finally:
            await asyncio.gather(*(ws.close() for ws in stack), return_exceptions=True)

    run(body())
    doc = wait_open_count(stub, 0)
    assert doc == {"open": 0, "total": clients}
    services = get(stub.port, "/api/services").json()["services"]
    websocket_service = next(s for s in services if s["name"] == "websocket")
    assert websocket_service["websockets_open"] == 0
    assert websocket_service["websockets_total"] == clients


def test_open_count_drops_when_clients_vanish(launcher):
    stub = launcher.start_stub("--ws-interval", "0.1")

    async def body():
        for _ in range(5):
            ws = await connect(stub, "/ws")
            assert_stats_message(await recv(ws))
            # No close handshake: the TCP connection just goes.
            ws.transport.abort()
        # The stub notices on its next push or read.

    run(body())
    assert wait_open_count(stub, 0) == {"open": 0, "total": 5}


def test_sigterm_with_websockets_open_exits_cleanly(launcher):
    stub = launcher.start_stub("--ws-interval", "0.1")

    async def body():
        opened = [await connect(stub, "/ws") for _ in range(5)]
        for ws in opened:
            assert_stats_message(await recv(ws))
        assert ws_stats(stub)["open"] == 5
        assert launcher.stop(stub) == 0
        for ws in opened:
            await recv_close(ws)

    run(body())
