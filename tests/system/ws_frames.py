"""WebSocket frames by hand (RFC 6455), for what no client or server library will send or show:
close codes a library refuses to send, an empty close, a ping left unanswered, the exact order
of frames on the wire, a compressed message of the test's own making.

RawClient plays a client through sluice on a plain socket; serve_upgrade() answers an upgrade in
a FakeUpstream handler (conftest.py), which then plays the upstream frame by frame. Every read has
a deadline: a frame that does not come fails the test instead of hanging it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import struct
import time
import zlib

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
# Longest any one frame or handshake may take to arrive; everything is on loopback.
FRAME_TIMEOUT_S = 10.0


def accept_for(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def close_payload(code: int | None = None, reason: bytes = b"") -> bytes:
    """A close frame's payload: the code (two bytes) and the reason, or nothing."""
    return b"" if code is None else struct.pack("!H", code) + reason


def parse_close(payload: bytes) -> tuple[int | None, bytes]:
    if not payload:
        return None, b""
    return struct.unpack("!H", payload[:2])[0], payload[2:]


def encode_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False,
                 mask: bool = True) -> bytes:
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    bit = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + _mask_fast(payload, key)


def _mask_fast(payload: bytes, key: bytes) -> bytes:
    """XOR with the key, a machine word at a time (big messages)."""
    words = (len(payload) + 3) // 4
    k = int.from_bytes(key * words, "little")
    data = int.from_bytes(payload + b"\0" * (words * 4 - len(payload)), "little")
    return (data ^ k).to_bytes(words * 4, "little")[:len(payload)]


def deflate_message(data: bytes) -> bytes:
    """One permessage-deflate message (RFC 7692 7.2.1): raw deflate, sync flush, tail removed."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class Frame:
    """One frame as read: FIN, RSV1, opcode and the unmasked payload."""

    def __init__(self, fin: bool, rsv1: bool, opcode: int, payload: bytes):
        self.fin, self.rsv1, self.opcode, self.payload = fin, rsv1, opcode, payload

    def __repr__(self) -> str:
        return f"Frame(op={self.opcode}, fin={self.fin}, rsv1={self.rsv1}, {self.payload[:40]!r})"


class FrameReader:
    """Frames from a socket, each under a deadline; None once the peer has closed."""

    def __init__(self, sock: socket.socket, buf: bytes = b""):
        self.sock = sock
        self.buf = bytearray(buf)

    def _fill(self, need: int, end: float) -> bool:
        while len(self.buf) < need:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no whole frame within {FRAME_TIMEOUT_S} s; have "
                                     f"{bytes(self.buf[:40])!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                raise AssertionError("the connection was reset (RST): a close frame may be lost")
            if not chunk:
                return False
            self.buf += chunk
        return True

    def frame(self, timeout: float = FRAME_TIMEOUT_S) -> Frame | None:
        end = time.monotonic() + timeout
        if not self._fill(2, end):
            if self.buf:
                raise AssertionError(f"closed inside a frame header: {bytes(self.buf)!r}")
            return None
        b0, b1 = self.buf[0], self.buf[1]
        n, pos = b1 & 0x7F, 2
        if n == 126:
            assert self._fill(4, end), "closed inside a frame header"
            n, pos = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            assert self._fill(10, end), "closed inside a frame header"
            n, pos = struct.unpack("!Q", self.buf[2:10])[0], 10
        key = b""
        if b1 & 0x80:
            assert self._fill(pos + 4, end), "closed inside a frame header"
            key, pos = bytes(self.buf[pos:pos + 4]), pos + 4
        assert self._fill(pos + n, end), "closed inside a frame"
        payload = bytes(self.buf[pos:pos + n])
        del self.buf[:pos + n]
        if key:
            payload = _mask_fast(payload, key)
        return Frame(bool(b0 & 0x80), bool(b0 & 0x40), b0 & 0x0F, payload)

    def data_or_close(self, timeout: float = FRAME_TIMEOUT_S) -> Frame | None:
        """The next data or close frame, skipping pings and pongs."""
        while True:
            f = self.frame(timeout)
            if f is None or f.opcode not in (OP_PING, OP_PONG):
                return f

    def until_eof(self, timeout: float = FRAME_TIMEOUT_S) -> list[Frame]:
        """Every frame up to the peer's FIN (a reset fails: that is what loses close frames)."""
        frames = []
        while True:
            f = self.frame(timeout)
            if f is None:
                return frames
            frames.append(f)


def read_head(sock: socket.socket, buf: bytes = b"", timeout: float = FRAME_TIMEOUT_S
              ) -> tuple[str, dict[str, str], list[tuple[str, str]], bytes]:
    """An HTTP head: (start line, fields by lower-case name, every field in order, rest)."""
    end = time.monotonic() + timeout
    while b"\r\n\r\n" not in buf:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no HTTP head within {timeout} s: {buf[:200]!r}")
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a whole head: {buf[:200]!r}")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    ordered = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        ordered.append((name.strip(), value.strip()))
    fields = {}
    for name, value in ordered:
        low = name.lower()
        fields[low] = f"{fields[low]}, {value}" if low in fields else value
    return lines[0], fields, ordered, rest


class RawClient:
    """A WebSocket client on a plain socket, through sluice at `port` from `source`."""

    def __init__(self, port: int, path: str, source: str = "127.0.0.1", *,
                 extensions: str | None = None, headers: dict[str, str] | None = None):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=FRAME_TIMEOUT_S,
                                             source_address=(source, 0))
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
        if extensions:
            lines.append(f"Sec-WebSocket-Extensions: {extensions}")
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status_line, self.fields, self.ordered, rest = read_head(self.sock)
        self.status = int(self.status_line.split()[1])
        if self.status == 101:
            assert self.fields.get("sec-websocket-accept") == accept_for(key), self.fields
        self.reader = FrameReader(self.sock, rest)

    def send(self, opcode: int, payload: bytes = b"", *, fin: bool = True, rsv1: bool = False):
        self.sock.sendall(encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=True))

    def frame(self, timeout: float = FRAME_TIMEOUT_S) -> Frame | None:
        return self.reader.frame(timeout)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def serve_upgrade(upstream, conn, index, *, extensions: str | None = None,
                  extra: list[str] | None = None) -> tuple[bytes, dict[str, str], FrameReader]:
    """In a FakeUpstream handler: reads the upgrade request on `conn`, answers 101 (with
    `extensions` and `extra` field lines, nothing else: no Server), and returns (the request
    head, its fields, a FrameReader for what follows)."""
    head, _, rest = upstream.next_request(conn, index, b"")
    assert head is not None, "the connection closed before an upgrade came"
    lines = head.decode("latin-1").split("\r\n")
    fields = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        low = name.strip().lower()
        fields[low] = f"{fields[low]}, {value.strip()}" if low in fields else value.strip()
    answer = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade",
              f"Sec-WebSocket-Accept: {accept_for(fields['sec-websocket-key'])}"]
    if extensions:
        answer.append(f"Sec-WebSocket-Extensions: {extensions}")
    answer += extra or []
    conn.sendall(("\r\n".join(answer) + "\r\n\r\n").encode())
    return head, fields, FrameReader(conn, rest)


def send_from_server(conn: socket.socket, opcode: int, payload: bytes = b"", *, fin: bool = True,
                     rsv1: bool = False) -> None:
    conn.sendall(encode_frame(opcode, payload, fin=fin, rsv1=rsv1, mask=False))
