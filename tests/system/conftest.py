"""Fixtures for sluice's black-box system tests.

The tests start the real `sluice` and `upstream-stub` binaries on loopback, each on port 0, and
learn the port from the one `listening on 127.0.0.1:PORT` line the binary writes to stderr once it
has bound (a readiness signal with a deadline, never a sleep). Every process a fixture starts is
stopped by PID at teardown, on success and on failure alike: SIGTERM, a bounded wait, then SIGKILL.

Distinct 127.0.0.x source addresses are distinct clients to sluice: the helpers bind the client
socket's source address, so one test can play a hundred clients from one machine.

Environment (set by ctest, tests/CMakeLists.txt): SLUICE_BIN, UPSTREAM_STUB_BIN, SLUICE_SOURCE_DIR;
in the sanitizer builds also ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS (see `sanitizer_reports`).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

# How long a binary may take to bind and say so; generous for a loaded CI machine.
STARTUP_DEADLINE_S = 10.0
# How long a process gets to exit after SIGTERM before SIGKILL (sluice drains for up to 10 s).
STOP_DEADLINE_S = 12.0
# Default per-request socket timeout of the client helpers: no request in these tests should
# take longer, so a hung proxy fails the test instead of hanging it.
REQUEST_TIMEOUT_S = 15.0

LISTENING_RE = re.compile(r"(?<!admin )listening on 127\.0\.0\.1:(\d+)")
# The first line of a report from AddressSanitizer, LeakSanitizer, UBSan or ThreadSanitizer.
SANITIZER_REPORT_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer")
SANITIZER_OPTIONS = ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS")
ADMIN_LISTENING_RE = re.compile(r"admin listening on 127\.0\.0\.1:(\d+)")


def _required_env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the system tests through ctest "
                    f"(or set SLUICE_BIN, UPSTREAM_STUB_BIN, SLUICE_SOURCE_DIR)", returncode=2)
    return value


def sluice_bin() -> str:
    return _required_env("SLUICE_BIN")


def run_sluice_to_exit(cwd: Path, config: str, timeout: float = 10) -> tuple[int, str]:
    """Runs `sluice --config CONFIG` in `cwd` when it is expected to exit on its own (a config it
    refuses, an address it cannot take); returns (exit code, stderr). Killed if it does not."""
    proc = subprocess.Popen([sluice_bin(), "--config", config], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    if SANITIZER_REPORT_RE.search(stderr):
        pytest.fail(f"sanitizer report on sluice's stderr:\n{stderr}", pytrace=False)
    return proc.returncode, stderr


def stub_bin() -> str:
    return _required_env("UPSTREAM_STUB_BIN")


def source_dir() -> Path:
    return Path(_required_env("SLUICE_SOURCE_DIR"))


def free_port() -> int:
    """A port nothing listens on right now (bound, read, closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------------------------
# Processes


@dataclass
class Proc:
    """A started binary: its PID, the port it announced and where its stderr goes."""

    name: str
    popen: subprocess.Popen
    stderr_path: Path
    port: int = 0
    access_log: Path | None = None
    admin_port: int = 0
    config_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.popen.poll() is None

    def rss_hwm_kib(self) -> int:
        """Peak resident set size (VmHWM) of the process, in KiB."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+)\s+kB", status, re.M)
        assert match, status
        return int(match.group(1))

    def access_entries(self) -> list[dict]:
        """The access log's JSON lines written so far (sluice flushes every 100 ms)."""
        assert self.access_log is not None, "this process has no access log file"
        if not self.access_log.exists():
            return []
        entries = []
        for line in self.access_log.read_text().splitlines():
            line = line.strip()
            if line:
                entries.append(json.loads(line))
        return entries

    def wait_access_entries(self, predicate, count: int, deadline_s: float = 5.0) -> list[dict]:
        """Polls the access log until at least `count` entries match `predicate` (bounded)."""
        end = time.monotonic() + deadline_s
        matching: list[dict] = []
        while time.monotonic() < end:
            matching = [e for e in self.access_entries() if predicate(e)]
            if len(matching) >= count:
                return matching
            time.sleep(0.05)
        return matching


def stop_process(popen: subprocess.Popen, deadline_s: float = STOP_DEADLINE_S) -> int | None:
    """SIGTERM by PID, wait up to `deadline_s`, then SIGKILL. Returns the exit code."""
    if popen.poll() is not None:
        return popen.returncode
    try:
        os.kill(popen.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return popen.wait(timeout=deadline_s)
    except subprocess.TimeoutExpired:
        try:
            os.kill(popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return popen.wait(timeout=5)


class Launcher:
    """Starts binaries for one test and stops all of them at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.procs: list[Proc] = []
        self._count = 0

    def _next_name(self, kind: str) -> str:
        self._count += 1
        return f"{kind}{self._count}"

    def _spawn(self, name: str, argv: list[str], nofile: int | None = None) -> Proc:
        stderr_path = self.tmp_path / f"{name}.stderr"
        stdout_path = self.tmp_path / f"{name}.stdout"

        def limit_descriptors() -> None:
            # Soft and hard both: sluice raises its soft limit to the hard one at start.
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        # Files, not pipes: a chatty process can never block on a full pipe nobody reads.
        with open(stderr_path, "wb") as err, open(stdout_path, "wb") as out:
            popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                     cwd=self.tmp_path,
                                     preexec_fn=limit_descriptors if nofile else None)
        proc = Proc(name=name, popen=popen, stderr_path=stderr_path)
        self.procs.append(proc)
        return proc

    def _wait_listening(self, proc: Proc) -> bool:
        """Waits for the `listening on` line; False when the process exits first."""
        end = time.monotonic() + STARTUP_DEADLINE_S
        while time.monotonic() < end:
            match = LISTENING_RE.search(proc.stderr_text())
            if match:
                proc.port = int(match.group(1))
                admin = ADMIN_LISTENING_RE.search(proc.stderr_text())
                if admin:
                    proc.admin_port = int(admin.group(1))
                elif proc.name.startswith("sluice") and "admin listening" not in proc.stderr_text():
                    # The admin line follows the proxy's; give it a moment (it may be off).
                    for _ in range(50):
                        time.sleep(0.01)
                        admin = ADMIN_LISTENING_RE.search(proc.stderr_text())
                        if admin:
                            proc.admin_port = int(admin.group(1))
                            break
                return True
            if not proc.alive():
                return False
            time.sleep(0.02)
        raise AssertionError(f"{proc.name} did not report `listening on` within "
                             f"{STARTUP_DEADLINE_S} s; stderr:\n{proc.stderr_text()}")

    def start_stub(self, *args: str) -> Proc:
        """upstream-stub on 127.0.0.1:0 with extra arguments (e.g. --stats-interval 1)."""
        proc = self._spawn(self._next_name("stub"),
                           [stub_bin(), "--listen", "127.0.0.1:0", *args])
        if not self._wait_listening(proc):
            raise AssertionError(f"upstream-stub exited with {proc.popen.returncode}; stderr:\n"
                                 f"{proc.stderr_text()}")
        return proc

    def start_sluice(self, config_text: str, access_log: bool = True,
                     nofile: int | None = None) -> Proc:
        """sluice with `config_text` (YAML with a `{listen}` and `{access_log}` placeholder);
        `nofile`: its RLIMIT_NOFILE, soft and hard."""
        name = self._next_name("sluice")
        log_path = self.tmp_path / f"{name}.access.log"
        config_path = self.tmp_path / f"{name}.yaml"

        text = config_text
        # Every sluice gets its admin listener on a port of its own, so tests run in parallel
        # never meet on the default 127.0.0.1:9901.
        if not re.search(r"^admin:", text, re.M):
            text = text.rstrip("\n") + "\nadmin: {listen: 127.0.0.1:0}\n"

        def launch(listen: str) -> Proc:
            config_path.write_text(text.replace("{listen}", listen)
                                   .replace("{access_log}", str(log_path) if access_log else "off"))
            proc = self._spawn(name, [sluice_bin(), "--config", str(config_path)], nofile)
            proc.access_log = log_path if access_log else None
            proc.config_path = config_path
            return proc

        proc = launch("127.0.0.1:0")
        if self._wait_listening(proc):
            return proc
        raise AssertionError(f"sluice did not start (exit {proc.popen.returncode}); stderr:\n"
                             f"{proc.stderr_text()}")

    def stop(self, proc: Proc) -> int | None:
        return stop_process(proc.popen)

    def stop_all(self) -> None:
        # Reverse order: the proxy first, then its upstream.
        for proc in reversed(self.procs):
            stop_process(proc.popen)

    def sanitizer_reports(self) -> list[str]:
        """Sanitizer reports on the stderr of the processes started (when no log_path took
        them: a run outside ctest)."""
        return [f"{proc.name} stderr:\n{proc.stderr_text()}" for proc in self.procs
                if SANITIZER_REPORT_RE.search(proc.stderr_text())]


def sluice_config(upstream_port: int, body: str = "", *, workers: int = 2,
                  upstream_extra: str = "", top: str = "") -> str:
    """A sluice YAML config: listen and access-log placeholders, the upstream, then `body`
    (routes, default, caps, ... written as top-level YAML)."""
    upstream = f"address: 127.0.0.1:{upstream_port}"
    if upstream_extra:
        upstream += ", " + upstream_extra
    return (f"listen: {{listen}}\n"
            f"workers: {workers}\n"
            f"upstream: {{{upstream}}}\n"
            f"access_log: {{access_log}}\n"
            f"{top}"
            f"{body}")


@pytest.fixture(autouse=True)
def sanitizer_reports(tmp_path, monkeypatch):
    """In a sanitizer build, a report from any process the test started (sluice, the stub, a
    `sluice check` run) fails the test at teardown, with the report. Each runtime gets a
    log_path in the test's own directory, so ASan, LeakSanitizer and TSan reports land in files
    (one per process) whoever started the process and wherever its stderr went. GCC's UBSan
    writes to stderr whatever log_path says: the launcher and run_sluice_to_exit scan the
    stderr of what they start for that. Set up before, so torn down after, the launcher:
    processes are stopped first and LeakSanitizer has written what it found at exit. A no-op
    for binaries built without sanitizers."""
    log_dir = tmp_path / "sanitizer-logs"
    log_dir.mkdir()
    for name in SANITIZER_OPTIONS:
        options = os.environ.get(name, "")
        monkeypatch.setenv(name, f"{options}:log_path={log_dir}/{name.split('_')[0].lower()}"
                           if options else f"log_path={log_dir}/{name.split('_')[0].lower()}")
    yield log_dir
    reports = []
    for path in sorted(log_dir.iterdir()):
        text = path.read_text(errors="replace")
        if SANITIZER_REPORT_RE.search(text):
            reports.append(f"{path.name}:\n{text}")
        elif text.strip():
            print(f"sanitizer output without a report in {path.name}:\n{text}")
    if reports:
        pytest.fail("sanitizer report(s) from the processes of this test:\n" + "\n".join(reports),
                    pytrace=False)


@pytest.fixture
def launcher(tmp_path, sanitizer_reports):
    launch = Launcher(tmp_path)
    try:
        yield launch
    finally:
        launch.stop_all()
    reports = launch.sanitizer_reports()
    if reports:
        pytest.fail("sanitizer report(s) on stderr:\n" + "\n".join(reports), pytrace=False)


@pytest.fixture
def stub(launcher) -> Proc:
    """A default upstream-stub (stats interval 0.1 s)."""
    return launcher.start_stub()


@pytest.fixture
def make_sluice(launcher, stub):
    """make_sluice(body_yaml, **sluice_config kwargs) -> Proc: sluice in front of `stub`."""

    def make(body: str = "", **kwargs) -> Proc:
        return launcher.start_sluice(sluice_config(stub.port, body, **kwargs))

    return make


# --------------------------------------------------------------------------------------------
# Clients


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    elapsed_s: float

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


def connect(port: int, source: str = "127.0.0.1", timeout: float = REQUEST_TIMEOUT_S
            ) -> http.client.HTTPConnection:
    """A keep-alive HTTP connection to sluice from source address `source` (127.0.0.x)."""
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0))


def send(conn: http.client.HTTPConnection, method: str, path: str, body=None,
         headers: dict | None = None, **kwargs) -> Response:
    """One request on an open connection; reads the whole response."""
    started = time.monotonic()
    conn.request(method, path, body=body, headers=headers or {}, **kwargs)
    resp = conn.getresponse()
    data = resp.read()
    return Response(resp.status, resp.headers, data, time.monotonic() - started)


def request(port: int, method: str, path: str, source: str = "127.0.0.1", body=None,
            headers: dict | None = None, timeout: float = REQUEST_TIMEOUT_S, **kwargs) -> Response:
    """One request on a fresh connection from `source`, like one curl call."""
    conn = connect(port, source, timeout)
    try:
        return send(conn, method, path, body=body, headers=headers, **kwargs)
    finally:
        conn.close()


def get(port: int, path: str, source: str = "127.0.0.1", **kwargs) -> Response:
    return request(port, "GET", path, source=source, **kwargs)


class StubRequestCounter:
    """Counts requests the stub answered since creation, asking the stub directly (not through
    sluice). Each probe is itself a request, counted once answered: `since()` leaves them out."""

    def __init__(self, stub_proc: Proc):
        self.stub = stub_proc
        self.probes = 0
        self.start = self._read()

    def _read(self) -> int:
        value = stub_counter(self.stub, "requests_total")
        self.probes += 1
        return value

    def since(self) -> int:
        # The value read excludes the probe being answered but includes every earlier probe.
        return self._read() - self.start - (self.probes - 1)


def stub_counter(stub_proc: Proc, name: str) -> int:
    """A counter from the stub's GET /api/services (asked of the stub directly)."""
    doc = get(stub_proc.port, "/api/services").json()

    def find(node):
        if isinstance(node, dict):
            if name in node and isinstance(node[name], int):
                return node[name]
            for value in node.values():
                found = find(value)
                if found is not None:
                    return found
        elif isinstance(node, list):
            for value in node:
                found = find(value)
                if found is not None:
                    return found
        return None

    value = find(doc)
    assert value is not None, f"{name} not in /api/services: {doc}"
    return value


def stub_connections_total(stub_proc: Proc) -> int:
    return stub_counter(stub_proc, "connections_total")


def read_raw_responses(sock: socket.socket, count: int, deadline_s: float = REQUEST_TIMEOUT_S
                       ) -> list[tuple[int, dict, bytes]]:
    """Reads `count` HTTP/1.1 responses (Content-Length or chunked bodies) from a raw socket."""
    buf = b""
    out = []
    end = time.monotonic() + deadline_s

    def fill() -> None:
        nonlocal buf
        if time.monotonic() > end:
            raise AssertionError(f"timed out reading responses; have {out!r}, buffer {buf[:200]!r}")
        sock.settimeout(max(0.05, end - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed after {len(out)} responses")
        buf += chunk

    while len(out) < count:
        while b"\r\n\r\n" not in buf:
            fill()
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(buf) < length:
                fill()
            body, buf = buf[:length], buf[length:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in buf:
                    fill()
                size_line, buf = buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    fill()
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    break
        else:
            body = b""
        out.append((status, headers, body))
    return out


# --------------------------------------------------------------------------------------------
# A misbehaving upstream, for what the stub will not do


def content_length(head: bytes) -> int:
    match = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    return int(match.group(1)) if match else 0


class FakeUpstream:
    """A raw-socket HTTP backend: `handler(upstream, conn, conn_index)` serves one connection.
    Every byte received is kept in `received` (per connection) and request lines in `requests`."""

    def __init__(self, handler):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.received: list[bytearray] = []
        self.requests: list[bytes] = []
        self.threads: list[threading.Thread] = []
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            with self.lock:
                index = len(self.conns)
                self.conns.append(conn)
                self.received.append(bytearray())
            t = threading.Thread(target=self._serve, args=(conn, index), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn, index):
        try:
            self.handler(self, conn, index)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def recv(self, conn, index) -> bytes:
        """One recv that records what arrived; b"" on EOF or error."""
        try:
            chunk = conn.recv(65536)
        except OSError:
            return b""
        with self.lock:
            self.received[index] += chunk
        return chunk

    def next_request(self, conn, index, buf: bytes) -> tuple[bytes | None, bytes, bytes]:
        """Reads one request (head and Content-Length body). Returns (head, body, rest)."""
        while b"\r\n\r\n" not in buf:
            chunk = self.recv(conn, index)
            if not chunk:
                return None, b"", b""
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        need = content_length(head)
        while len(rest) < need:
            chunk = self.recv(conn, index)
            if not chunk:
                return None, b"", b""
            rest += chunk
        with self.lock:
            self.requests.append(head.split(b"\r\n", 1)[0])
        return head, rest[:need], rest[need:]

    def requests_on(self, conn, index, buf: bytes = b""):
        """Yields each request head on `conn` (bodies read and dropped) until the peer closes."""
        while True:
            head, _, buf = self.next_request(conn, index, buf)
            if head is None:
                return
            yield head

    def request_lines(self) -> list[bytes]:
        with self.lock:
            return list(self.requests)

    def all_received(self) -> bytes:
        with self.lock:
            return b"".join(bytes(r) for r in self.received)

    def close(self):
        self.stopping.set()
        self.sock.close()
        self.thread.join(timeout=5)
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass
        for t in self.threads:
            t.join(timeout=2)


@pytest.fixture
def fake_upstream():
    """fake_upstream(handler) -> FakeUpstream; every one made is closed at teardown."""
    made: list[FakeUpstream] = []

    def make(handler) -> FakeUpstream:
        upstream = FakeUpstream(handler)
        made.append(upstream)
        return upstream

    try:
        yield make
    finally:
        for upstream in made:
            upstream.close()
