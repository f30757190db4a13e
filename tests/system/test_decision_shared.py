"""The proxy, the admin /limits explainer and `sluice check --request` judge a request by one
decision: for every spelling, method and header here, the three agree on the route (or on the
400), because none of them repeats the decision's steps. Before, /limits?method=post answered
`register` while the proxy counted the request on `default`."""

from __future__ import annotations

import socket
import subprocess
import urllib.parse

from conftest import get, sluice_bin

ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
  - name: admin
    prefix: /api/admin/
    exempt: true
  - name: stats
    path: /api/headers
    methods: [GET]
    limits: [{per: ip, rate: 1000/minute}]
  - name: register
    path: /api/echo
    methods: [POST]
    limits: [{per: ip, rate: 1000/minute}]
default:
  limits: [{per: ip, rate: 1000/minute}]
"""

# (method, target, extra header lines)
CASES = [
    ("GET", "/api/headers", ""),
    ("get", "/api/headers", ""),
    ("HEAD", "/api/headers", ""),
    ("GET", "/API/Headers/", ""),
    ("GET", "/api/%68eaders", ""),
    ("GET", "/api/admin/../headers", ""),
    ("GET", "/api/admin/%2e%2e/headers;x=1", ""),
    ("GET", "/api/admin/..%2Fheaders", ""),
    ("GET", "/api/admin/..;/headers", ""),
    ("GET", "/api/headers%252F", ""),
    ("GET", "/api/admin/x", ""),
    ("post", "/api/echo", "Content-Length: 0\r\n"),
    ("PUT", "/api/echo", "X-HTTP-Method-Override: POST\r\nContent-Length: 0\r\n"),
    ("GET", "/api/echo", ""),
    ("GET", "/HEALTH", ""),
    ("GET", "/other", ""),
    ("GET", "/api/headers", "Connection: host\r\n"),
]


def raw_status(port: int, source: str, method: str, target: str, extra: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: h\r\n{extra}Connection: close\r\n\r\n"
                  .encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1])


def headers_param(extra: str) -> str:
    out = ""
    for line in extra.split("\r\n"):
        if line:
            out += "&header=" + urllib.parse.quote(line)
    return out


def test_proxy_limits_and_check_agree(make_sluice):
    sluice = make_sluice(ROUTES)
    for i, (method, target, extra) in enumerate(CASES):
        source = f"127.0.0.{60 + i}"
        status = raw_status(sluice.port, source, method, target, extra)
        entries = sluice.wait_access_entries(lambda e, s=source: e["client"] == s, 1)
        assert entries, (method, target)
        proxy_route = entries[0]["route"]

        q = (f"/limits?ip={source}&method={urllib.parse.quote(method)}"
             f"&path={urllib.parse.quote(target, safe='')}{headers_param(extra)}")
        r = get(sluice.admin_port, q)
        assert r.status == 200, (q, r.status, r.body)
        doc = r.json()

        check = subprocess.run([sluice_bin(), "check", str(sluice.config_path), "--request",
                                f"{method} {target}", "--ip", source,
                                *[a for line in extra.split("\r\n") if line
                                  for a in ("--header", line)]],
                               capture_output=True, text=True, timeout=20)
        assert check.returncode == 0, check.stderr
        judged = check.stdout[check.stdout.index("request "):]

        case = (method, target, extra, status, proxy_route, doc, judged)
        if status == 400:
            assert proxy_route == "-", case
            assert doc["decision"] == "refused" and doc["status"] == 400, case
            assert "refused, 400" in judged, case
        else:
            assert doc["route"] == proxy_route, case
            assert f"  route {proxy_route} " in judged, case
    # The cases cover each way: refused, exempt, each limited route and the default.
    routes = {e["route"] for e in sluice.access_entries()}
    assert {"-", "health", "admin", "stats", "register", "default"} <= routes, routes
