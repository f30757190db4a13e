#!/usr/bin/env python3
"""Constant-rate HTTP client for the flood-accuracy run of bench/run.sh.

Sends one GET every 1/RATE seconds for DURATION seconds (RATE * DURATION requests) on a fixed
schedule, whatever the answers: each send is due at t0 + k/RATE (absolute, so lateness never
accumulates), and goes out on whichever keep-alive connection has no request outstanding, a new
one being opened when none is free. It counts the answers by status and prints one JSON object.

The last 1.5 ms before each send is spent spinning rather than in select() or sleep(), which wake
up to a millisecond late here: the limit under test is exactly the offered rate, so the client's own
jitter decides admissions and must be far below the 10 ms interval. Send lateness is reported so
that a reader can check it.

Standard library only.
"""

import argparse
import json
import selectors
import socket
import sys
import time

# Stop reading answers this long before each send is due.
PUMP_STOP_SECONDS = 0.003
# Spin for the last this long before each send rather than sleep (a spin under real-time
# priority must stay well under the kernel's 95 % real-time throttle: 1.5 ms of 10 is).
SPIN_SECONDS = 0.0015
# After the last send, how long to wait for the answers still outstanding.
DRAIN_SECONDS = 5.0


class Conn:
    """One keep-alive connection and its unparsed input."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.busy = False
        self.alive = True
        self.request = -1  # index of the request outstanding on it


def parse_response(buf):
    """(status, bytes consumed, close) of the first complete response in buf, or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buf[:end]).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    length = None
    chunked = False
    close = False
    for line in head[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and "close" in value:
            close = True
    body_start = end + 4
    if chunked:
        # The bodies here are a few bytes: the terminating chunk is enough to find the end.
        term = buf.find(b"0\r\n\r\n", body_start)
        if term < 0:
            return None
        return status, term + 5, close
    length = length or 0
    if len(buf) < body_start + length:
        return None
    return status, body_start + length, close


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--source", default="127.0.0.2", help="source address (the client's IP)")
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds")
    ap.add_argument("--conns", type=int, default=8, help="connections opened up front")
    ap.add_argument("--trace", help="write one line per request: index, send start and end "
                    "(µs after the first send was due), status")
    args = ap.parse_args()

    sel = selectors.DefaultSelector()
    conns = []
    counts = {}
    state = {"answered": 0, "opened": 0, "errors": 0}

    def open_conn():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.bind((args.source, 0))
        s.connect((args.host, args.port))
        s.setblocking(False)
        c = Conn(s)
        sel.register(s, selectors.EVENT_READ, c)
        conns.append(c)
        state["opened"] += 1
        return c

    def drop(c):
        if c.alive:
            c.alive = False
            sel.unregister(c.sock)
            c.sock.close()
            if c.busy:
                state["errors"] += 1  # the request on it got no answer
                c.busy = False

    def pump(timeout):
        for key, _ in sel.select(timeout):
            c = key.data
            try:
                data = c.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                drop(c)
                continue
            if not data:
                drop(c)
                continue
            c.buf += data
            while True:
                parsed = parse_response(c.buf)
                if parsed is None:
                    break
                status, used, close = parsed
                del c.buf[:used]
                counts[status] = counts.get(status, 0) + 1
                statuses[c.request] = status
                state["answered"] += 1
                c.busy = False
                if close:
                    drop(c)
                    break

    for _ in range(args.conns):
        open_conn()

    request = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    total = int(round(args.rate * args.duration))
    interval = 1.0 / args.rate
    lateness = []
    starts = []
    statuses = {}
    rr = 0
    t0 = time.perf_counter() + 0.05
    for k in range(total):
        due = t0 + k * interval
        # Answers are read while the send is far off; then a sleep to just before it is due, then
        # a spin. epoll's timeout is in whole milliseconds and a sleep can be ~60 µs late here.
        while True:
            left = due - time.perf_counter()
            if left <= PUMP_STOP_SECONDS:
                break
            pump(left - PUMP_STOP_SECONDS)
        left = due - time.perf_counter()
        if left > SPIN_SECONDS:
            time.sleep(left - SPIN_SECONDS)
        while time.perf_counter() < due:
            pass
        conn = None
        live = [c for c in conns if c.alive]
        for i in range(len(live)):
            c = live[(rr + i) % len(live)]
            if not c.busy:
                conn = c
                rr = (rr + i + 1) % len(live)
                break
        if conn is None:
            conn = open_conn()
        conn.busy = True
        conn.request = k
        starts.append(time.perf_counter() - t0)
        try:
            conn.sock.sendall(request)
        except OSError:
            drop(conn)
        lateness.append(time.perf_counter() - due)
    sent_span = time.perf_counter() - t0

    deadline = time.perf_counter() + DRAIN_SECONDS
    while any(c.busy and c.alive for c in conns) and time.perf_counter() < deadline:
        pump(0.05)
    unanswered = sum(1 for c in conns if c.busy and c.alive)
    for c in conns:
        drop(c)

    if args.trace:
        with open(args.trace, "w") as f:
            for k, (start, late) in enumerate(zip(starts, lateness)):
                end = k * interval + late
                f.write(f"{k} {start * 1e6:.1f} {end * 1e6:.1f} {statuses.get(k, 0)}\n")
    lateness.sort()
    us = lambda s: round(s * 1e6, 1)
    print(json.dumps({
        "path": args.path,
        "rate": args.rate,
        "duration_s": args.duration,
        "sent": total,
        "send_span_s": round(sent_span, 4),
        # Where in its millisecond the schedule started: NGINX counts time in whole milliseconds.
        "t0_phase_us": round(t0 * 1e6 % 1000, 1),
        "admitted": counts.get(200, 0),
        "rejected": counts.get(429, 0),
        "by_status": {str(k): v for k, v in sorted(counts.items())},
        "unanswered": unanswered + state["errors"],
        "connections_opened": state["opened"],
        "send_late_p50_us": us(lateness[len(lateness) // 2]),
        "send_late_p99_us": us(lateness[int(len(lateness) * 0.99)]),
        "send_late_max_us": us(lateness[-1]),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
