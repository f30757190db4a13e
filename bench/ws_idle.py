#!/usr/bin/env python3
"""Memory per idle WebSocket: sluice's resident set before and after N idle WebSockets.

Starts upstream-stub (--ws-interval 0: its WebSockets only echo, so nothing moves) and sluice in
front of it, warms sluice up with a few hundred WebSockets opened and closed (thread caches,
allocator arenas and the key table are then already there), reads VmRSS from /proc/PID/status,
opens N WebSockets from many 127.0.0.x source addresses, waits until sluice's
sluice_websocket_connections gauge says all N are open, reads VmRSS again and prints the
difference per connection, in KiB, as one JSON object (and a markdown line for
docs/benchmarks.md).

Each WebSocket costs sluice two descriptors (client and upstream), so N needs 2N plus a few:
the soft RLIMIT_NOFILE is raised to the hard one here, before anything starts (the children
inherit it), and N is lowered, with a note, when even the hard limit cannot hold it.

  bench/ws_idle.py [--build build] [--connections 10000] [--sources 100] [--workers 1]

The clients are raw sockets (a handshake written by hand, the 101 read, then nothing): a client
library would cost far more memory and time in this process than sluice does per connection.
Every process started here is stopped by its PID at the end. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# How long a binary may take to say it is listening.
STARTUP_DEADLINE_S = 10.0
# How long one handshake may take, and all N of them.
HANDSHAKE_TIMEOUT_S = 30.0
OPEN_DEADLINE_S = 600.0
# Handshakes in flight at once (sluice's listen backlog and the stub's are the limit that matters).
CONCURRENCY = 200
# Descriptors sluice needs besides two per WebSocket: listeners, epoll, eventfds, timers, logs.
SLUICE_SPARE_FDS = 64
WARMUP = 300


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+)\s+kB", status, re.M).group(1))


def start(argv: list[str], stderr_path: Path) -> subprocess.Popen:
    with open(stderr_path, "wb") as err:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err)


def wait_port(proc: subprocess.Popen, stderr_path: Path, pattern: str) -> int:
    regex = re.compile(pattern)
    end = time.monotonic() + STARTUP_DEADLINE_S
    while time.monotonic() < end:
        match = regex.search(stderr_path.read_text(errors="replace"))
        if match:
            return int(match.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    sys.exit(f"{proc.args[0]} did not start:\n{stderr_path.read_text(errors='replace')}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def gauge(admin_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=10) as res:
        text = res.read().decode()
    return sum(int(float(v)) for v in
               re.findall(r'^sluice_websocket_connections\{[^}]*\}\s+(\S+)', text, re.M))


def wait_gauge(admin_port: int, expected: int, deadline_s: float = 60.0) -> int:
    end = time.monotonic() + deadline_s
    value = gauge(admin_port)
    while value != expected and time.monotonic() < end:
        time.sleep(0.1)
        value = gauge(admin_port)
    return value


async def open_ws(port: int, source: str, extensions: str | None):
    """One WebSocket through sluice, by hand; returns its (reader, writer)."""
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), HANDSHAKE_TIMEOUT_S)
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
    if extensions:
        head += f"Sec-WebSocket-Extensions: {extensions}\r\n"
    writer.write((head + "\r\n").encode())
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HANDSHAKE_TIMEOUT_S)
    if not answer.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake from {source} refused: {answer[:200]!r}")
    return reader, writer


async def open_many(port: int, count: int, sources: list[str], extensions: str | None) -> list:
    gate = asyncio.Semaphore(CONCURRENCY)
    opened: list = []

    async def one(i: int):
        async with gate:
            opened.append(await open_ws(port, sources[i % len(sources)], extensions))

    await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(count))), OPEN_DEADLINE_S)
    return opened


def close_all(conns: list) -> None:
    for _, writer in conns:
        writer.transport.abort()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build", help="the CMake build directory")
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--sources", type=int, default=100, help="127.0.0.x client addresses")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--compression", action="store_true",
                    help="clients offer permessage-deflate (negotiated with them)")
    args = ap.parse_args()

    hard = raise_nofile()
    wanted = args.connections
    count = min(wanted, (hard - SLUICE_SPARE_FDS) // 2)
    if count < wanted:
        print(f"note: RLIMIT_NOFILE hard limit {hard} holds {count} WebSockets in sluice "
              f"(two descriptors each), not {wanted}", file=sys.stderr)
    build = Path(args.build)
    sluice_bin = build / "proxy" / "sluice"
    stub_bin = build / "upstream_stub" / "upstream-stub"
    sources = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(args.sources)]

    work = Path(tempfile.mkdtemp(prefix="sluice-ws-idle."))
    procs: list[subprocess.Popen] = []
    try:
        stub_err = work / "stub.stderr"
        stub = start([str(stub_bin), "--listen", "127.0.0.1:0", "--ws-interval", "0",
                      "--threads", "1"], stub_err)
        procs.append(stub)
        stub_port = wait_port(stub, stub_err, r"listening on 127\.0\.0\.1:(\d+)")
        config = work / "sluice.yaml"
        caps = count + WARMUP + 100
        config.write_text(f"""listen: 127.0.0.1:0
workers: {args.workers}
upstream: {{address: 127.0.0.1:{stub_port}}}
access_log: off
admin: {{listen: 127.0.0.1:0}}
caps: {{max_client_connections: {caps}, max_websockets: {caps}}}
routes:
  - name: ws
    path: /ws
    websocket: {{max_connections_per_ip: 0, max_connections: 0, idle_timeout: 1h}}
""")
        sluice_err = work / "sluice.stderr"
        sluice = start([str(sluice_bin), "--config", str(config)], sluice_err)
        procs.append(sluice)
        port = wait_port(sluice, sluice_err, r"(?<!admin )listening on 127\.0\.0\.1:(\d+)")
        admin = wait_port(sluice, sluice_err, r"admin listening on 127\.0\.0\.1:(\d+)")
        extensions = "permessage-deflate; client_max_window_bits" if args.compression else None

        async def warm_up():
            conns = await open_many(port, WARMUP, sources, extensions)
            close_all(conns)

        asyncio.run(warm_up())
        if wait_gauge(admin, 0) != 0:
            sys.exit("the warm-up WebSockets did not all close")
        before = rss_kib(sluice.pid)

        async def measure():
            started = time.monotonic()
            conns = await open_many(port, count, sources, extensions)
            opened_s = time.monotonic() - started
            open_now = await asyncio.to_thread(wait_gauge, admin, count)
            after = rss_kib(sluice.pid)
            close_all(conns)
            return open_now, after, opened_s

        open_now, after, opened_s = asyncio.run(measure())
        if open_now != count:
            sys.exit(f"sluice reports {open_now} WebSockets open, not {count}")
        per_conn = (after - before) / count
        result = {"connections": count, "workers": args.workers, "sources": len(sources),
                  "compression_offered": args.compression, "rss_before_kib": before,
                  "rss_after_kib": after, "kib_per_websocket": round(per_conn, 2),
                  "open_seconds": round(opened_s, 1)}
        print(json.dumps(result))
        print(f"| {count} | {args.workers} | {before} | {after} | {per_conn:.1f} |")
    finally:
        for proc in reversed(procs):
            stop(proc)


if __name__ == "__main__":
    main()
