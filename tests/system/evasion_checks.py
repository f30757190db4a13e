"""Sending the spellings of spellings.py byte for byte, and the checks that the path-evasion tests
(real backends, and the stub in loose mode) share: a protected handler runs no more often than
its quota allows, whatever the spelling, and no spelling gets a 5xx or no answer at all.

A handler's runs are always read from the backend itself (a callable `runs_of()`), never through
sluice, and after each request, so a failure names the spellings that ran it.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from spellings import (ACCEPTABLE_STATUSES, AUTHORITY, COUNTED, OTHER, REGISTER_BODY,
                       REGISTER_CANONICAL, REGISTER_QUOTA, STATS_CANONICAL, STATS_QUOTA, Spelling)

# --------------------------------------------------------------------------------------------
# Raw client


@dataclass
class RawAnswer:
    """What came back: the status (0 when the connection closed without an answer)."""

    status: int
    head: bytes
    body: bytes

    def describe(self) -> str:
        return f"{self.status} {self.body[:60]!r}" if self.status else "closed unanswered"


def request_bytes(spelling: Spelling, authority: str) -> bytes:
    """The request as sent: HTTP/1.1, `Connection: close`, a JSON body for register."""
    fill = lambda text: text.replace(AUTHORITY, authority)  # noqa: E731
    lines = [f"{spelling.method} {fill(spelling.target)} HTTP/1.1"]
    lines += [f"Host: {fill(host)}" for host in spelling.hosts]
    lines += [f"{name}: {value}" for name, value in spelling.fields]
    body = REGISTER_BODY if spelling.handler == "register" else b""
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


def send_raw(port: int, data: bytes, source: str = "127.0.0.1", head_only: bool = False,
             timeout: float = 10.0) -> RawAnswer:
    """Sends `data` on a new connection from `source` and reads one response (framed by
    Content-Length, chunked, or the close; no body for a HEAD or a 1xx/204/304)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(data)
        buf = b""

        def fill() -> bool:
            nonlocal buf
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no complete answer within {timeout} s: {buf[:300]!r}")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            buf += chunk
            if len(buf) > 4 * 1024 * 1024:
                raise AssertionError("answer over 4 MiB")
            return bool(chunk)

        while b"\r\n\r\n" not in buf:
            if not fill():
                return RawAnswer(0, buf, b"")
        head, rest = buf.split(b"\r\n\r\n", 1)
        status_line, _, header_text = head.partition(b"\r\n")
        status = int(status_line.split()[1])
        fields = {}
        for line in header_text.split(b"\r\n"):
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip()
        if head_only or status < 200 or status in (204, 304):
            return RawAnswer(status, head, b"")
        if b"content-length" in fields:
            length = int(fields[b"content-length"])
            buf = rest
            while len(buf) < length and fill():
                pass
            return RawAnswer(status, head, buf[:length])
        if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
            buf = rest
            while not buf.endswith(b"0\r\n\r\n") and fill():
                pass
            return RawAnswer(status, head, buf)
        buf = rest
        while fill():
            pass
        return RawAnswer(status, head, buf)


def send_spelling(port: int, spelling: Spelling, source: str) -> RawAnswer:
    """One spelling to `port` (sluice on 127.0.0.1) from client address `source`."""
    return send_raw(port, request_bytes(spelling, f"127.0.0.1:{port}"), source,
                    head_only=spelling.method.upper() == "HEAD")


# --------------------------------------------------------------------------------------------
# Runs of spellings, and what they made the backend do


@dataclass
class Sent:
    """One spelling sent, sluice's answer, and how often it ran the protected handler."""

    spelling: Spelling
    answer: RawAnswer
    runs: int

    def describe(self) -> str:
        s = self.spelling
        return (f"{s.method} {s.target!r} [{s.name}]: {self.answer.describe()}, "
                f"ran {s.handler} {self.runs}x")


def send_counting(port: int, sequence, source: str, runs_of) -> list[Sent]:
    """Sends each spelling of `sequence` in order from `source`; `runs_of()` reads the protected
    handler's run count from the backend itself (never through sluice) after each one."""
    sent = []
    before = runs_of()
    for spelling in sequence:
        answer = send_spelling(port, spelling, source)
        after = runs_of()
        sent.append(Sent(spelling, answer, after - before))
        before = after
    return sent


def cycle(spellings, count: int) -> list[Spelling]:
    """`count` spellings, going round `spellings` in order."""
    return [spellings[i % len(spellings)] for i in range(count)]


def runs_report(sent: list[Sent]) -> str:
    """The spellings that ran the handler, once each: how many runs, and sluice's answers."""
    runs: dict[Spelling, list[int]] = {}
    for s in sent:
        if s.runs:
            runs.setdefault(s.spelling, []).append(s.answer.status)
    lines = [f"  {len(statuses)}x {sp.method} {sp.target!r} [{sp.name}], answered "
             f"{'/'.join(str(code) for code in sorted(set(statuses)))}"
             for sp, statuses in runs.items()]
    return "\n".join(lines) or "  (none)"


def unacceptable(sent: list[Sent]) -> list[str]:
    """The answers no spelling may get: a 5xx, an unexpected status, or none at all."""
    return [s.describe() for s in sent if s.answer.status not in ACCEPTABLE_STATUSES]


def spend_quota(port: int, canonical: Spelling, quota: int, source: str, runs_of) -> None:
    """Sends `canonical` `quota` times from `source`: each must be admitted and run the handler
    once, or the counts that follow prove nothing."""
    spent = send_counting(port, [canonical] * quota, source, runs_of)
    wrong = [s.describe() for s in spent
             if s.runs != 1 or s.answer.status in (0, 429) or s.answer.status >= 500]
    assert not wrong, ("the canonical spelling did not run the handler once per admitted "
                       "request:\n  " + "\n  ".join(wrong))


def assert_quota_then_spellings(port: int, canonical: Spelling, spellings, quota: int,
                                source: str, runs_of) -> None:
    """Spends the quota with the canonical spelling (each run once), then sends every spelling
    once: none may run the protected handler again, and every answer is acceptable."""
    spend_quota(port, canonical, quota, source, runs_of)
    sent = send_counting(port, spellings, source, runs_of)
    bad = unacceptable(sent)
    extra = sum(s.runs for s in sent)
    assert extra == 0 and not bad, (
        f"with the {quota}/minute quota spent, {extra} more {canonical.handler} runs "
        f"({quota + extra} > {quota}); spellings that ran it:\n{runs_report(sent)}"
        + ("\nunacceptable answers:\n  " + "\n  ".join(bad) if bad else ""))


def assert_mix_within_quota(port: int, spellings, count: int, quota: int, source: str,
                            runs_of) -> None:
    """`count` requests going round `spellings` from one client run the handler at most
    `quota` times, and every answer is acceptable."""
    sent = send_counting(port, cycle(spellings, count), source, runs_of)
    runs = sum(s.runs for s in sent)
    bad = unacceptable(sent)
    assert runs <= quota and not bad, (
        f"{count} requests in a mix of spellings ran {spellings[0].handler} {runs} times "
        f"(quota {quota}); spellings that ran it:\n{runs_report(sent)}"
        + ("\nunacceptable answers:\n  " + "\n  ".join(bad) if bad else ""))


def spellings_that_run(port: int, spellings, source: str, runs_of) -> list[Spelling]:
    """The spellings that run the protected handler when sent straight to the backend on
    `port` (no sluice in between): an attacker's pick, learnt by probing."""
    return [s.spelling for s in send_counting(port, spellings, source, runs_of) if s.runs]


def assert_backend_pick_within_quota(sluice_port: int, backend_port: int, spellings,
                                     count: int, quota: int, sources: tuple[str, str],
                                     runs_of) -> None:
    """The spellings the backend itself serves with the protected handler (probed directly from
    sources[0]), `count` requests going round them through sluice from sources[1]: at most
    `quota` runs."""
    pick = spellings_that_run(backend_port, spellings, sources[0], runs_of)
    assert pick, "no spelling ran the handler when sent straight to the backend"
    assert_mix_within_quota(sluice_port, pick, count, quota, sources[1], runs_of)


# A method spelling, the route it must count against, and why it matters: frameworks run the
# GET handler for HEAD, and Werkzeug upper-cases the method, running `post` as POST.
METHOD_VARIANTS = {
    "HEAD": (Spelling("method HEAD", "stats", "HEAD", "/api/system/stats", COUNTED),
             STATS_CANONICAL, STATS_QUOTA),
    "post": (Spelling("method post", "register", "post", "/api/auth/register", COUNTED),
             REGISTER_CANONICAL, REGISTER_QUOTA),
}


def assert_method_variant_counted(port: int, variant: str, source: str, runs_of) -> None:
    """A quota's worth of the METHOD_VARIANTS[variant] spelling leaves nothing for the canonical
    request after it, and runs the handler at most the quota."""
    spelling, canonical, quota = METHOD_VARIANTS[variant]
    sent = send_counting(port, [spelling] * quota + [canonical], source, runs_of)
    bad = unacceptable(sent)
    assert not bad, bad
    statuses = [s.answer.status for s in sent]
    runs = sum(s.runs for s in sent)
    assert statuses[-1] == 429 and runs <= quota, (
        f"{quota} {spelling.method} requests did not spend the quota of the route listing "
        f"{canonical.method}: the {canonical.method} after them got {statuses[-1]} "
        f"({spelling.method} answers: {sorted(set(statuses[:-1]))}); "
        f"{canonical.handler} ran {runs} times (quota {quota})")


# The forged identity a client sends; none of it may reach a backend from an untrusted peer.
FORGED_IP = "203.0.113.9"
FORGED_HOST = "evil.example"
FORGED_FIELDS = (
    ("X-Real-IP", FORGED_IP),
    ("X-Forwarded-For", FORGED_IP),
    ("X-Forwarded-Host", FORGED_HOST),
    ("X-Forwarded-Proto", "https"),
    ("Forwarded", f"for={FORGED_IP};host={FORGED_HOST};proto=https"),
)


def identity_probe(path: str) -> Spelling:
    """A GET of `path` carrying every forged forwarding field."""
    return Spelling("forged identity", "none", "GET", path, OTHER, fields=FORGED_FIELDS)


def assert_identity_replaced(received: dict[str, str], source: str, *,
                             real_ip_from_sluice: bool = True) -> None:
    """`received`: the header fields a backend got (lower-case names) for identity_probe() sent
    from `source`. Nothing forged is left; X-Forwarded-For starts with the real peer,
    X-Forwarded-Proto says http and, unless a proxy behind sluice sets its own, X-Real-IP is
    the peer."""
    seen = {name.lower(): value for name, value in received.items() if value != ""}
    forged = {name: value for name, value in seen.items()
              if FORGED_IP in value or FORGED_HOST in value}
    assert not forged, f"forged identity reached the backend: {forged}"
    assert "forwarded" not in seen and "x-forwarded-host" not in seen, seen
    assert seen.get("x-forwarded-for", "").split(",")[0].strip() == source, seen
    assert seen.get("x-forwarded-proto") == "http", seen
    if real_ip_from_sluice:
        assert seen.get("x-real-ip") == source, seen
