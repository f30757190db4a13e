"""Real backends that nobody here wrote, for the path-evasion tests: FastAPI on uvicorn, Flask on
Werkzeug's server, nginx as the origin, the chain nginx -> FastAPI, Express, and a plain Node
http server routing on the WHATWG URL parser.

Each serves the same five handlers: GET /api/system/stats (`stats`), POST /api/auth/register
(`register`), /health (`health`), anything under /api/admin/ (`admin`) and a catch-all (`none`).
Each handler counts its runs; `Backend.hits()` reads the counts from the backend's own port (or,
for nginx, its per-handler access logs), never through sluice.

A backend listens on a free loopback port; it is ready once an HTTP request to that port is
answered (polled, with a deadline), and it is stopped by PID (SIGTERM, a bounded wait, SIGKILL).
A backend that cannot start fails the test with what is missing: a skipped test would let an
evasion through unnoticed.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import free_port, stop_process

HERE = Path(__file__).resolve().parent
PYTHON = "/usr/bin/python3"
HANDLERS = ("stats", "register", "health", "admin", "none")
# The backends, in the order the tests run them.
KINDS = ("fastapi", "flask", "nginx", "nginx_fastapi", "express", "node_whatwg")
# uvicorn imports FastAPI and pydantic before it binds: a few seconds on a loaded machine.
READY_DEADLINE_S = 30.0
INSTALL_HINT = "run `scripts/install-deps.sh test` (or `make deps-test`)"


@dataclass
class Backend:
    """A started backend: the port sluice forwards to, and where its handler counts are read."""

    kind: str
    port: int
    procs: list[subprocess.Popen] = field(default_factory=list)
    # Port whose GET /__hits returns the counts; 0 for nginx, whose counts are log files.
    hits_port: int = 0
    hits_dir: Path | None = None
    # nginx's port for GET /__sync, asked before its log files are read.
    sync_port: int = 0

    def hits(self) -> Counter:
        """Runs of each handler since start."""
        if self.hits_port:
            return Counter(http_get_json(self.hits_port, "/__hits"))
        assert self.hits_dir is not None
        # Every request nginx answered before this one has been logged by now (one process).
        http_get_json(self.sync_port, "/__sync")
        counts = Counter()
        for name in HANDLERS:
            log = self.hits_dir / f"{name}.log"
            if log.exists():
                counts[name] = len(log.read_bytes().splitlines())
        return counts

    def stop(self) -> None:
        # Front first: nginx before the FastAPI app it proxies to.
        for proc in reversed(self.procs):
            stop_process(proc, deadline_s=5.0)


def http_get_json(port: int, path: str, timeout: float = 5.0):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, f"GET {path} on port {port}: {resp.status} {body[:200]!r}"
        return json.loads(body)
    finally:
        conn.close()


def _missing(kind: str) -> str | None:
    """What this machine lacks to run `kind`, or None."""
    def module(name: str, package: str) -> str | None:
        return None if importlib.util.find_spec(name) else f"Python module {name} ({package})"

    node = None if shutil.which("node") else "node (Debian package nodejs)"
    nginx = None if nginx_bin() else "/usr/sbin/nginx (Debian package nginx)"
    needs = {
        "fastapi": [module("fastapi", "python3-fastapi"), module("uvicorn", "python3-uvicorn")],
        "flask": [module("flask", "python3-flask")],
        "nginx": [nginx],
        "nginx_fastapi": [nginx, module("fastapi", "python3-fastapi"),
                          module("uvicorn", "python3-uvicorn")],
        "express": [node, None if (HERE / "express/node_modules/express").is_dir() else
                    "tests/system/backends/express/node_modules (npm ci)"],
        "node_whatwg": [node],
    }[kind]
    missing = [m for m in needs if m]
    return ", ".join(missing) if missing else None


def nginx_bin() -> str | None:
    for candidate in ("/usr/sbin/nginx", shutil.which("nginx")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def _spawn(argv: list[str], workdir: Path, name: str) -> subprocess.Popen:
    # Files, not pipes: a chatty server can never block on a pipe nobody reads.
    with open(workdir / f"{name}.stdout", "wb") as out, open(workdir / f"{name}.stderr", "wb") as err:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                cwd=workdir)


def _output(workdir: Path, name: str) -> str:
    text = ""
    for stream in ("stderr", "stdout"):
        path = workdir / f"{name}.{stream}"
        if path.exists():
            text += path.read_text(errors="replace")[-3000:]
    return text


def _wait_ready(proc: subprocess.Popen, port: int, path: str, workdir: Path, name: str) -> None:
    """Polls GET `path` on `port` until it answers 200; fails when the process exits first or
    the deadline passes."""
    end = time.monotonic() + READY_DEADLINE_S
    last_error = ""
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode} before it was ready; output:\n"
                        f"{_output(workdir, name)}", pytrace=False)
        try:
            http_get_json(port, path, timeout=1.0)
            return
        except (OSError, AssertionError, ValueError, http.client.HTTPException) as e:
            last_error = repr(e)
        time.sleep(0.05)
    pytest.fail(f"{name} did not answer GET {path} on port {port} within {READY_DEADLINE_S} s "
                f"({last_error}); output:\n{_output(workdir, name)}", pytrace=False)


def _start_fastapi(workdir: Path, name: str = "fastapi") -> tuple[subprocess.Popen, int]:
    port = free_port()
    # h11 is uvicorn's own HTTP implementation, the one Debian's python3-uvicorn brings (httptools
    # is optional). Keep-alive longer than sluice's pool idle timeout, as behind any proxy.
    proc = _spawn([PYTHON, "-m", "uvicorn", "--app-dir", str(HERE), "fastapi_app:app",
                   "--host", "127.0.0.1", "--port", str(port), "--http", "h11",
                   "--timeout-keep-alive", "75", "--no-access-log"], workdir, name)
    _wait_ready(proc, port, "/__hits", workdir, name)
    return proc, port


def _start_nginx(workdir: Path, template: str, app_port: int = 0,
                 name: str = "nginx") -> tuple[subprocess.Popen, int]:
    port = free_port()
    prefix = workdir / name
    for sub in ("hits", "tmp", "logs"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text((HERE / template).read_text().replace("@PREFIX@", str(prefix))
                    .replace("@PORT@", str(port)).replace("@APP_PORT@", str(app_port)))
    # -e: the startup error log too goes to the prefix, not /var/log/nginx.
    proc = _spawn([nginx_bin(), "-p", str(prefix), "-c", str(conf),
                   "-e", str(prefix / "error.log")], workdir, name)
    _wait_ready(proc, port, "/__sync", workdir, name)
    return proc, port


def start_backend(kind: str, workdir: Path) -> Backend:
    """Starts backend `kind` in `workdir`; fails the calling test when it cannot."""
    missing = _missing(kind)
    if missing:
        pytest.fail(f"backend {kind} cannot start: missing {missing}; {INSTALL_HINT}",
                    pytrace=False)
    workdir.mkdir(parents=True, exist_ok=True)
    backend = Backend(kind=kind, port=0)
    try:
        if kind == "fastapi":
            proc, port = _start_fastapi(workdir)
            backend.procs.append(proc)
            backend.port = backend.hits_port = port
        elif kind == "flask":
            port = free_port()
            proc = _spawn([PYTHON, str(HERE / "flask_app.py"), str(port)], workdir, kind)
            backend.procs.append(proc)
            _wait_ready(proc, port, "/__hits", workdir, kind)
            backend.port = backend.hits_port = port
        elif kind == "nginx":
            proc, port = _start_nginx(workdir, "nginx_origin.conf.in")
            backend.procs.append(proc)
            backend.port = backend.sync_port = port
            backend.hits_dir = workdir / "nginx" / "hits"
        elif kind == "nginx_fastapi":
            app, app_port = _start_fastapi(workdir)
            backend.procs.append(app)
            backend.hits_port = app_port
            proc, port = _start_nginx(workdir, "nginx_chain.conf.in", app_port)
            backend.procs.append(proc)
            backend.port = port
        elif kind in ("express", "node_whatwg"):
            port = free_port()
            proc = _spawn([shutil.which("node"), str(HERE / kind / "server.js"), str(port)],
                          workdir, kind)
            backend.procs.append(proc)
            _wait_ready(proc, port, "/__hits", workdir, kind)
            backend.port = backend.hits_port = port
        else:
            raise ValueError(f"unknown backend {kind!r}")
    except BaseException:
        backend.stop()
        raise
    return backend
