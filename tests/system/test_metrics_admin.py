"""The admin listener: exact metrics, the exposition's well-formedness (promtool, our own checks,
a real Prometheus scraping it), /limits, /readyz, the admin token and allow list, and reloads.

Metrics are recorded when a request's exchange ends, a moment after the client has read its
response, so a test that has just sent traffic polls the scrape (bounded) until the total it
expects is there, then asserts every series exactly.
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from conftest import (free_port, get, read_raw_responses, request, run_sluice_to_exit,
                      source_dir, stop_process)

QUOTA = 5
LIMIT_NAME = f"{QUOTA}/minute per ip"  # the derived name of `{per: ip, rate: 5/minute}`

ROUTES = f"""
routes:
  - name: health
    path: /health
    exempt: true
  - name: api
    prefix: /api/
    limits:
      - per: ip
        rate: {QUOTA}/minute
"""

TOKEN_ENV = "SLUICE_TEST_ADMIN_TOKEN"
TOKEN = "s3cret-admin-token-for-tests"

# Bounds of every poll in this file.
METRICS_DEADLINE_S = 5.0
RELOAD_DEADLINE_S = 5.0
PROMETHEUS_DEADLINE_S = 30.0
PROMETHEUS_BIN = "/usr/bin/prometheus"
PROMTOOL_BIN = "/usr/bin/promtool"


# --------------------------------------------------------------------------------------------
# A small parser of the text exposition format (0.0.4)

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?[ \t]+(\S+)(?:[ \t]+-?\d+)?$")
LABEL_RE = re.compile(r"\s*([a-zA-Z_][a-zA-Z0-9_]*)=\"")
ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def parse_labels(text: str) -> dict[str, str]:
    labels: dict[str, str] = {}
    i = 0
    while i < len(text):
        m = LABEL_RE.match(text, i)
        assert m, f"bad label set at {i}: {text!r}"
        name, i = m.group(1), m.end()
        value = []
        while text[i] != '"':
            if text[i] == "\\":
                value.append(ESCAPES[text[i + 1]])
                i += 2
            else:
                value.append(text[i])
                i += 1
        i += 1
        assert name not in labels, f"label {name} twice in {text!r}"
        labels[name] = "".join(value)
        while i < len(text) and text[i] in " ,":
            i += 1
    return labels


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float

    def key(self) -> tuple:
        return self.name, frozenset(self.labels.items())


@dataclass
class Exposition:
    text: str
    helps: dict[str, str] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    def select(self, name: str, **labels: str) -> list[Sample]:
        """Samples of `name` whose labels include `labels`."""
        return [s for s in self.samples
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of `name` with exactly the label set `labels`."""
        found = [s for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) == 1, f"{name}{labels}: {len(found)} samples"
        return found[0].value

    def total(self, name: str, **labels: str) -> float:
        return sum(s.value for s in self.select(name, **labels))

    def family_of(self, sample_name: str) -> str | None:
        if sample_name in self.types:
            return sample_name
        for suffix in ("_bucket", "_sum", "_count"):
            base = sample_name.removesuffix(suffix)
            if base != sample_name and self.types.get(base) in ("histogram", "summary"):
                return base
        return None


def parse_exposition(text: str) -> Exposition:
    out = Exposition(text)
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP "):
            name, _, help_text = line[len("# HELP "):].partition(" ")
            assert name not in out.helps, f"HELP twice for {name}"
            out.helps[name] = help_text
        elif line.startswith("# TYPE "):
            name, _, kind = line[len("# TYPE "):].partition(" ")
            assert name not in out.types, f"TYPE twice for {name}"
            out.types[name] = kind
        elif line.startswith("#"):
            continue
        else:
            m = SAMPLE_RE.match(line)
            assert m, f"unparsable sample line: {line!r}"
            labels = parse_labels(m.group(2)) if m.group(2) else {}
            out.samples.append(Sample(m.group(1), labels, float(m.group(3))))
    return out


# --------------------------------------------------------------------------------------------
# Helpers


def scrape(sluice) -> Exposition:
    r = get(sluice.admin_port, "/metrics")
    assert r.status == 200, (r.status, r.body)
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.header("Content-Type")
    return parse_exposition(r.body.decode())


def wait_scrape(sluice, predicate, deadline_s: float = METRICS_DEADLINE_S) -> Exposition:
    """Scrapes until `predicate(exposition)` holds (bounded); returns the last scrape."""
    end = time.monotonic() + deadline_s
    while True:
        exp = scrape(sluice)
        if predicate(exp) or time.monotonic() > end:
            return exp
        time.sleep(0.05)


def settled(expected_requests: int):
    """Every request counted and none in flight."""
    return lambda exp: (exp.total("sluice_requests_total") == expected_requests
                        and exp.value("sluice_requests_in_flight") == 0)


def admin_json(sluice, method: str, path: str, **kwargs):
    r = request(sluice.admin_port, method, path, **kwargs)
    assert r.header("Content-Type") == "application/json", (r.status, r.headers, r.body)
    return r.status, r.json(), r


def statuses(port: int, path: str, count: int, source: str, method: str = "GET") -> list[int]:
    return [request(port, method, path, source=source).status for _ in range(count)]


def send_oversize_head(port: int, source: str) -> int:
    """A request whose head (20 KiB) is over the default 16 KiB cap: sluice answers 431."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        s.sendall(b"GET /api/headers HTTP/1.1\r\nHost: sluice\r\nX-Big: " + b"a" * (20 * 1024)
                  + b"\r\n\r\n")
        return read_raw_responses(s, 1)[0][0]


def send_malformed(port: int, source: str) -> int:
    """A request line that is not HTTP: sluice answers 400."""
    with socket.create_connection(("127.0.0.1", port), timeout=10,
                                  source_address=(source, 0)) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        return read_raw_responses(s, 1)[0][0]


def read_until_closed(sock: socket.socket, deadline_s: float = 5.0) -> bytes:
    """Everything the peer sends until it closes (a reset counts as closed); bounded."""
    data = b""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        sock.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection not closed within {deadline_s} s; received {data[:200]!r}")


def with_token_env(monkeypatch) -> None:
    # The launcher passes the test's environment to sluice, which reads the token at start.
    monkeypatch.setenv(TOKEN_ENV, TOKEN)


TOKEN_ADMIN = f"admin: {{listen: 127.0.0.1:0, token_env: {TOKEN_ENV}}}\n"


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --------------------------------------------------------------------------------------------
# Exact counters


def test_counters_are_exact(make_sluice):
    sluice = make_sluice(ROUTES)
    port = sluice.port

    assert statuses(port, "/api/headers", 8, "127.0.0.2") == [200] * QUOTA + [429] * 3
    assert statuses(port, "/api/echo", 2, "127.0.0.3", method="POST") == [200, 200]
    assert statuses(port, "/health", 4, "127.0.0.4") == [200] * 4
    assert send_oversize_head(port, "127.0.0.6") == 431
    assert send_malformed(port, "127.0.0.7") == 400
    sent = 8 + 2 + 4 + 2

    exp = wait_scrape(sluice, settled(sent))

    # Every series of the family, the ones this traffic never touched included (they are 0).
    expected_requests = {
        ("api", "read", "allowed"): QUOTA,
        ("api", "read", "limited"): 3,
        ("api", "write", "allowed"): 2,
        ("health", "read", "exempt"): 4,
        # No route and no method are known for a head that could not be read (431, 400).
        ("-", "write", "error"): 2,
    }
    requests = exp.select("sluice_requests_total")
    routes = {s.labels["route"] for s in requests}
    assert routes == {"-", "health", "api", "default"}
    assert len(requests) == len(routes) * 2 * 5  # route x method_class x decision
    actual = {(s.labels["route"], s.labels["method_class"], s.labels["decision"]): s.value
              for s in requests}
    assert {k: v for k, v in actual.items() if v} == expected_requests
    assert set(s.labels["decision"] for s in requests) == \
        {"allowed", "limited", "exempt", "shadow", "error"}

    expected_responses = {("api", "2xx"): QUOTA + 2, ("api", "4xx"): 3, ("health", "2xx"): 4,
                          ("-", "4xx"): 2}
    responses = {(s.labels["route"], s.labels["status_class"]): s.value
                 for s in exp.select("sluice_responses_total")}
    assert set(responses) == {(r, c) for r in routes for c in ("1xx", "2xx", "3xx", "4xx", "5xx")}
    assert {k: v for k, v in responses.items() if v} == expected_responses

    hits = {(s.labels["route"], s.labels["limit"]): s.value
            for s in exp.select("sluice_limit_hits_total")}
    assert hits == {("api", LIMIT_NAME): 3}

    # Duration histograms count every request that reached a route; the upstream histogram only
    # those forwarded (allowed and exempt, not the 429s).
    for route, count in {"api": 10, "health": 4, "default": 0}.items():
        assert exp.value("sluice_request_duration_seconds_count", route=route) == count, route
        assert exp.value("sluice_request_duration_seconds_bucket", route=route, le="+Inf") == count
    for route, count in {"api": QUOTA + 2, "health": 4, "default": 0}.items():
        assert exp.value("sluice_upstream_duration_seconds_count", route=route) == count, route
    assert exp.value("sluice_upstream_duration_seconds_count", route="-") == 0

    assert exp.value("sluice_requests_in_flight") == 0
    assert exp.value("sluice_key_table_keys") == 2  # 127.0.0.2 and 127.0.0.3 on the api limit
    assert exp.value("sluice_key_table_capacity") == 1000000
    assert exp.value("sluice_key_table_evictions_total") == 0
    assert exp.value("sluice_key_table_evictions_limited_total") == 0
    assert exp.value("sluice_upstream_connect_errors_total") == 0
    assert exp.value("sluice_upstream_timeouts_total") == 0
    assert exp.value("sluice_config_reloads_total", result="success") == 0
    assert exp.value("sluice_config_reloads_total", result="failure") == 0
    assert exp.select("sluice_build_info")[0].value == 1
    started = exp.value("sluice_config_last_reload_success_timestamp_seconds")
    assert abs(started - time.time()) < 120

    # Scraping is not traffic: the admin listener counts nothing of its own.
    again = scrape(sluice)
    assert again.total("sluice_requests_total") == sent


# --------------------------------------------------------------------------------------------
# Well-formed exposition


def traffic_for_lint(sluice) -> int:
    """A mix that fills most series; returns the number of requests sent."""
    port = sluice.port
    n = 0
    for source in ("127.0.0.71", "127.0.0.72"):
        n += len(statuses(port, "/api/headers", QUOTA + 2, source))
    n += len(statuses(port, "/api/echo", 1, "127.0.0.73", method="POST"))
    n += len(statuses(port, "/health", 3, "127.0.0.74"))
    n += len(statuses(port, "/zz-unique-path-8372", 2, "127.0.0.75"))
    assert send_oversize_head(port, "127.0.0.76") == 431
    return n + 1


def test_promtool_finds_no_problem(make_sluice):
    if not os.access(PROMTOOL_BIN, os.X_OK):
        pytest.skip(f"{PROMTOOL_BIN} missing: install the Debian package `prometheus`")
    sluice = make_sluice(ROUTES)
    sent = traffic_for_lint(sluice)
    wait_scrape(sluice, settled(sent))
    text = get(sluice.admin_port, "/metrics").body
    run = subprocess.run([PROMTOOL_BIN, "check", "metrics"], input=text, capture_output=True,
                         timeout=30)
    report = (run.stdout + run.stderr).decode(errors="replace")
    assert run.returncode == 0 and report.strip() == "", report


def test_exposition_checks_promtool_does_not_make(make_sluice):
    sluice = make_sluice(ROUTES)
    sent = traffic_for_lint(sluice)
    exp = wait_scrape(sluice, settled(sent))

    # No series twice.
    dupes = [k for k, n in Counter(s.key() for s in exp.samples).items() if n > 1]
    assert dupes == []

    # Every family has HELP and TYPE (and a non-empty help), and every sample a family.
    assert set(exp.helps) == set(exp.types)
    assert all(h.strip() for h in exp.helps.values())
    for s in exp.samples:
        assert exp.family_of(s.name) is not None, f"{s.name} has no # TYPE"
    assert all(name.startswith("sluice_") for name in exp.types)

    # Counters end in _total; gauges and histograms do not.
    for name, kind in exp.types.items():
        assert kind in ("counter", "gauge", "histogram"), (name, kind)
        assert name.endswith("_total") == (kind == "counter"), (name, kind)

    # Histograms: buckets cumulative in `le` order, +Inf last and equal to _count.
    histograms = [n for n, k in exp.types.items() if k == "histogram"]
    assert histograms
    checked = 0
    for name in histograms:
        series: dict[frozenset, list[tuple[float, float]]] = {}
        for s in exp.select(name + "_bucket"):
            rest = frozenset((k, v) for k, v in s.labels.items() if k != "le")
            series.setdefault(rest, []).append((float(s.labels["le"]), s.value))
        assert series, name
        for rest, buckets in series.items():
            labels = dict(rest)
            buckets.sort()
            counts = [c for _, c in buckets]
            assert counts == sorted(counts), (name, labels, buckets)
            assert math.isinf(buckets[-1][0]), (name, labels)
            assert buckets[-1][1] == exp.value(name + "_count", **labels), (name, labels)
            assert exp.value(name + "_sum", **labels) >= 0
            checked += 1
        # No _count or _sum without buckets.
        assert len(exp.select(name + "_count")) == len(series)
        assert len(exp.select(name + "_sum")) == len(series)
    assert checked >= 8
    # This traffic put something in the api route's buckets.
    assert exp.value("sluice_request_duration_seconds_count", route="api") == 2 * (QUOTA + 2) + 1

    # No client address or request path among label values: cardinality stays bounded by the
    # config, whatever clients send.
    for s in exp.samples:
        for k, v in s.labels.items():
            try:
                ipaddress.ip_address(v)
            except ValueError:
                pass
            else:
                raise AssertionError(f"IP address as a label value: {s.name}{s.labels}")
            assert "/" not in v or (s.name == "sluice_limit_hits_total" and k == "limit"), \
                f"path-like label value: {s.name}{s.labels}"
    for leak in ("127.0.0.7", "zz-unique-path", "/api/headers", "/health"):
        assert leak not in exp.text, leak


# --------------------------------------------------------------------------------------------
# A real Prometheus


def prometheus_config(tmp_path: Path, admin_port: int) -> Path:
    """deploy/prometheus/prometheus.yml rewritten as its comments say, alerts.yml next to it."""
    shipped = source_dir() / "deploy" / "prometheus"
    text = (shipped / "prometheus.yml").read_text()
    text, targets = re.subn(r"^( *- targets:).*$", rf'\1 ["127.0.0.1:{admin_port}"]', text,
                            flags=re.M)
    text, intervals = re.subn(r"^( *scrape_interval:).*$", r"\1 1s", text, flags=re.M)
    assert (targets, intervals) == (1, 1), "the comments of prometheus.yml promise one line each"
    out_dir = tmp_path / "prometheus"
    out_dir.mkdir()
    shutil.copy(shipped / "alerts.yml", out_dir / "alerts.yml")
    path = out_dir / "prometheus.yml"
    path.write_text(text)
    return path


def prom_query(port: int, query: str) -> list[dict] | None:
    """The query's result vector; None while Prometheus is not ready (it answers 503 then)."""
    r = get(port, "/api/v1/query?query=" + urllib.parse.quote(query), timeout=5)
    if r.status == 503:
        return None
    assert r.status == 200, (r.status, r.body)
    doc = r.json()
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def test_real_prometheus_scrapes_the_admin_listener(make_sluice, tmp_path):
    if not os.access(PROMETHEUS_BIN, os.X_OK):
        pytest.skip(f"{PROMETHEUS_BIN} missing: install the Debian package `prometheus` "
                    f"(scripts/install-deps.sh lists it among the test packages)")
    sluice = make_sluice(ROUTES)
    assert statuses(sluice.port, "/api/headers", QUOTA + 2, "127.0.0.81") == \
        [200] * QUOTA + [429] * 2
    wait_scrape(sluice, settled(QUOTA + 2))

    config = prometheus_config(tmp_path, sluice.admin_port)
    prom_port = free_port()
    log = tmp_path / "prometheus.stderr"
    with open(log, "wb") as err:
        prom = subprocess.Popen(
            [PROMETHEUS_BIN, f"--config.file={config}",
             f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdin=subprocess.DEVNULL, stdout=err, stderr=err, cwd=tmp_path)
    try:
        end = time.monotonic() + PROMETHEUS_DEADLINE_S
        allowed = up = None
        while time.monotonic() < end:
            assert prom.poll() is None, f"prometheus exited:\n{log.read_text(errors='replace')}"
            try:
                allowed = prom_query(prom_port, 'sluice_requests_total{route="api",decision="allowed"}')
                up = prom_query(prom_port, 'up{job="sluice"}')
            except OSError:
                allowed = up = None  # not listening yet (refused, or reset while starting)
            if allowed and up:
                values = {s["metric"]["method_class"]: float(s["value"][1]) for s in allowed}
                if values == {"read": QUOTA, "write": 0} and float(up[0]["value"][1]) == 1:
                    break
            time.sleep(0.25)
        else:
            raise AssertionError(f"prometheus never saw the expected values: allowed={allowed} "
                                 f"up={up}\n{log.read_text(errors='replace')[-3000:]}")
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{sluice.admin_port}"
        limited = prom_query(prom_port, 'sluice_requests_total{route="api",decision="limited",'
                                        'method_class="read"}')
        assert float(limited[0]["value"][1]) == 2
        # The shipped rules loaded (rule_files resolved next to the config).
        r = get(prom_port, "/api/v1/rules", timeout=5)
        groups = r.json()["data"]["groups"]
        assert [g["name"] for g in groups] == ["sluice"], groups
        assert all(rule.get("health") != "err" for g in groups for rule in g["rules"]), groups
    finally:
        stop_process(prom)


# --------------------------------------------------------------------------------------------
# /limits


LIMITS_ROUTES = """
routes:
  - name: api
    path: /api/headers
    limits:
      - per: ip
        rate: 3/minute
"""


def explain_limits(sluice, ip: str, path: str = "/api/headers") -> dict:
    status, doc, _ = admin_json(sluice, "GET", f"/limits?ip={ip}&path={path}&method=GET")
    assert status == 200, doc
    assert (doc["route"], doc["exempt"], doc["allowlisted"]) == ("api", False, False), doc
    assert len(doc["limits"]) == 1, doc
    return doc


def test_limits_endpoint_consumes_no_quota(make_sluice):
    sluice = make_sluice(LIMITS_ROUTES)
    client = "127.0.0.20"

    answers = [explain_limits(sluice, client) for _ in range(20)]
    first = answers[0]["limits"][0]
    assert (first["name"], first["per"], first["key"], first["quota"], first["allowed"]) == \
        ("3/minute per ip", "ip", client, 3, True), first
    assert "retry_after_s" not in first
    # Twenty explanations, one answer: nothing was consumed between them.
    assert all(a["decision"] == "allowed" and a["limits"][0]["remaining"] == first["remaining"]
               for a in answers), answers
    before = first["remaining"]

    # One real request moves `remaining` by exactly one, and the client still has its quota.
    assert get(sluice.port, "/api/headers", source=client).status == 200
    assert explain_limits(sluice, client)["limits"][0]["remaining"] == before - 1
    assert statuses(sluice.port, "/api/headers", 3, client) == [200, 200, 429]

    doc = explain_limits(sluice, client)
    lim = doc["limits"][0]
    assert doc["decision"] == "limited"
    assert (lim["remaining"], lim["allowed"]) == (0, False), lim
    assert 0 < lim["retry_after_s"] <= 60
    # Another client is untouched; the same client on another route meets that route's limits.
    other = explain_limits(sluice, "127.0.0.21")["limits"][0]
    assert other["remaining"] == before
    status, default, _ = admin_json(sluice, "GET", f"/limits?ip={client}&path=/elsewhere")
    assert (status, default["route"], default["limits"]) == (200, "default", []), default

    # The explanations are not requests: 4 went through the proxy, and only they are counted.
    exp = wait_scrape(sluice, settled(4))
    assert exp.total("sluice_requests_total") == 4

    for bad in ("/limits", f"/limits?ip={client}", "/limits?path=/api/headers",
                "/limits?ip=not-an-ip&path=/api/headers", f"/limits?ip={client}&path=api",
                f"/limits?ip={client}&path=/api/headers&colour=red",
                f"/limits?ip={client}&path=/api/headers&header=novalue"):
        status, doc, _ = admin_json(sluice, "GET", bad)
        assert status == 400 and doc.get("error"), (bad, status, doc)


def test_limits_remaining_is_what_the_client_has_left(make_sluice):
    sluice = make_sluice(LIMITS_ROUTES)
    assert explain_limits(sluice, "127.0.0.22")["limits"][0]["remaining"] == 3
    assert get(sluice.port, "/api/headers", source="127.0.0.22").status == 200
    assert explain_limits(sluice, "127.0.0.22")["limits"][0]["remaining"] == 2


# --------------------------------------------------------------------------------------------
# Admin token, methods, allow list, and the proxy port


def test_reload_is_forbidden_without_a_token(make_sluice):
    sluice = make_sluice(ROUTES)  # conftest's admin: {listen: 127.0.0.1:0}, no token_env
    status, doc, _ = admin_json(sluice, "POST", "/reload", headers=bearer(TOKEN))
    assert status == 403, doc
    assert "token" in doc["error"]


def test_reload_is_forbidden_when_the_token_variable_is_unset(make_sluice, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    sluice = make_sluice(ROUTES + TOKEN_ADMIN)
    status, doc, _ = admin_json(sluice, "POST", "/reload", headers=bearer(""))
    assert status == 403, doc
    assert TOKEN_ENV in sluice.stderr_text()  # the warning names the variable


def test_reload_needs_the_right_bearer_token(make_sluice, monkeypatch):
    with_token_env(monkeypatch)
    sluice = make_sluice(ROUTES + TOKEN_ADMIN)

    for headers in ({}, bearer("wrong"), bearer(TOKEN + "x"), bearer(TOKEN[:-1]),
                    {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
        status, doc, r = admin_json(sluice, "POST", "/reload", headers=headers)
        assert status == 401, (headers, doc)
        assert r.header("WWW-Authenticate") == 'Bearer realm="sluice-admin"'
    assert scrape(sluice).value("sluice_config_reloads_total", result="success") == 0

    status, doc, _ = admin_json(sluice, "POST", "/reload", headers=bearer(TOKEN))
    assert (status, doc["reloaded"]) == (200, True), doc
    assert scrape(sluice).value("sluice_config_reloads_total", result="success") == 1

    status, doc, r = admin_json(sluice, "GET", "/reload", headers=bearer(TOKEN))
    assert status == 405, doc
    assert r.header("Allow") == "POST"
    status, doc, _ = admin_json(sluice, "POST", "/metrics")
    assert status == 405, doc
    status, doc, _ = admin_json(sluice, "GET", "/no-such-endpoint")
    assert status == 404 and "/metrics" in doc["endpoints"], doc
    # /config names the variable, never its value.
    status, doc, _ = admin_json(sluice, "GET", "/config")
    assert status == 200
    assert TOKEN not in json.dumps(doc)


def test_admin_endpoints_are_not_on_the_proxy_port(make_sluice):
    sluice = make_sluice(ROUTES)
    for path in ("/metrics", "/healthz", "/readyz", "/config"):
        r = get(sluice.port, path, source="127.0.0.40")
        # The default route forwards it: the stub's own 404, in JSON.
        assert r.status == 404, (path, r.status, r.body)
        assert r.header("Content-Type").startswith("application/json"), r.headers
        assert b"sluice_" not in r.body and b'"status":"ok"' not in r.body.replace(b" ", b"")
    r = request(sluice.port, "POST", "/reload", source="127.0.0.40", headers=bearer(TOKEN))
    assert r.status in (404, 405) and b"reloaded" not in r.body, (r.status, r.body)


def test_admin_allow_list_closes_other_peers_without_a_byte(make_sluice):
    sluice = make_sluice(ROUTES + "admin: {listen: 127.0.0.1:0, allow: [127.0.0.5/32]}\n")
    for source in ("127.0.0.9", "127.0.0.1"):
        # Silent: closed before a request is even sent...
        with socket.create_connection(("127.0.0.1", sluice.admin_port), timeout=5,
                                      source_address=(source, 0)) as s:
            assert read_until_closed(s) == b"", source
        # ... and after one.
        with socket.create_connection(("127.0.0.1", sluice.admin_port), timeout=5,
                                      source_address=(source, 0)) as s:
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert read_until_closed(s) == b"", source

    r = get(sluice.admin_port, "/healthz", source="127.0.0.5")
    assert (r.status, r.json()) == (200, {"status": "ok"})
    assert get(sluice.admin_port, "/metrics", source="127.0.0.5").status == 200
    # The proxy port is not affected by the admin allow list.
    assert get(sluice.port, "/api/headers", source="127.0.0.9").status == 200


# --------------------------------------------------------------------------------------------
# Reload


def route_rate(sluice, route: str) -> str:
    """The rate of `route`'s first limit in the running config (GET /config)."""
    status, doc, _ = admin_json(sluice, "GET", "/config")
    assert status == 200, doc
    for r in doc.get("routes", []):
        if r.get("name") == route:
            return r["limits"][0]["rate"]
    raise AssertionError(f"route {route} not in /config: {json.dumps(doc)[:2000]}")


def wait_for(predicate, deadline_s: float, what: str):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {deadline_s} s waiting for {what}")


RELOAD_ERROR_RE = re.compile(r"\.yaml:\d+:\d+: ")


def test_reload_applies_a_good_file_and_keeps_the_running_config_on_a_bad_one(
        make_sluice, monkeypatch):
    with_token_env(monkeypatch)
    sluice = make_sluice(ROUTES + TOKEN_ADMIN)
    assert route_rate(sluice, "api") == f"{QUOTA}/minute"
    assert statuses(sluice.port, "/api/headers", QUOTA + 1, "127.0.0.30") == [200] * QUOTA + [429]

    # A good edit, applied by SIGHUP.
    original = sluice.config_path.read_text()
    assert f"rate: {QUOTA}/minute" in original
    edited = original.replace(f"rate: {QUOTA}/minute", "rate: 2/minute")
    sluice.config_path.write_text(edited)
    os.kill(sluice.pid, signal.SIGHUP)
    wait_for(lambda: route_rate(sluice, "api") == "2/minute", RELOAD_DEADLINE_S, "the new rate")
    assert statuses(sluice.port, "/api/headers", 3, "127.0.0.31") == [200, 200, 429]
    exp = wait_scrape(sluice, settled(QUOTA + 1 + 3))
    assert exp.value("sluice_config_reloads_total", result="success") == 1
    assert exp.value("sluice_config_reloads_total", result="failure") == 0
    # Series are kept by route name across the reload; limit series by limit name.
    assert exp.value("sluice_requests_total", route="api", method_class="read",
                     decision="allowed") == QUOTA + 2
    assert exp.value("sluice_requests_total", route="api", method_class="read",
                     decision="limited") == 2
    assert {(s.labels["limit"], s.value) for s in exp.select("sluice_limit_hits_total")} == \
        {(LIMIT_NAME, 1), ("2/minute per ip", 1)}
    assert not RELOAD_ERROR_RE.search(sluice.stderr_text())

    # A broken file, by SIGHUP: refused with file:line:col, the running config stays.
    sluice.config_path.write_text(edited.replace("rate: 2/minute", "rate: 2/minnute"))
    os.kill(sluice.pid, signal.SIGHUP)
    wait_for(lambda: RELOAD_ERROR_RE.search(sluice.stderr_text()), RELOAD_DEADLINE_S,
             "the reload error on stderr")
    error_line = next(l for l in sluice.stderr_text().splitlines() if RELOAD_ERROR_RE.search(l))
    assert sluice.config_path.name in error_line and "minnute" in error_line, error_line
    exp = wait_scrape(sluice, lambda e: e.value("sluice_config_reloads_total",
                                                  result="failure") == 1)
    assert exp.value("sluice_config_reloads_total", result="failure") == 1
    assert exp.value("sluice_config_reloads_total", result="success") == 1
    assert route_rate(sluice, "api") == "2/minute"
    assert statuses(sluice.port, "/api/headers", 3, "127.0.0.32") == [200, 200, 429]
    assert sluice.alive()

    # A valid file that changes a restart-only key, by POST /reload: 422 naming the key.
    sluice.config_path.write_text(edited.replace("listen: 127.0.0.1:0",
                                                 f"listen: 127.0.0.1:{free_port()}", 1))
    assert sluice.config_path.read_text() != edited
    status, doc, _ = admin_json(sluice, "POST", "/reload", headers=bearer(TOKEN))
    assert status == 422, doc
    assert doc["reloaded"] is False and "listen" in doc["error"], doc
    exp = scrape(sluice)
    assert exp.value("sluice_config_reloads_total", result="failure") == 2
    assert exp.value("sluice_config_reloads_total", result="success") == 1
    assert route_rate(sluice, "api") == "2/minute"
    assert statuses(sluice.port, "/api/headers", 3, "127.0.0.33") == [200, 200, 429]

    # The broken file over POST /reload: 422 with the same file:line:col message.
    sluice.config_path.write_text(edited.replace("rate: 2/minute", "rate: 2/minnute"))
    status, doc, _ = admin_json(sluice, "POST", "/reload", headers=bearer(TOKEN))
    assert status == 422 and RELOAD_ERROR_RE.search(doc["error"]), doc


# --------------------------------------------------------------------------------------------
# /readyz, /healthz, metrics off


def test_readyz_follows_the_upstream(make_sluice, launcher, stub):
    sluice = make_sluice(ROUTES)
    status, doc, _ = admin_json(sluice, "GET", "/readyz")
    assert (status, doc["ready"]) == (200, True), doc
    assert doc["upstream"] == f"127.0.0.1:{stub.port}"

    launcher.stop(stub)
    status, doc, _ = admin_json(sluice, "GET", "/readyz")
    assert (status, doc["ready"]) == (503, False), doc
    assert "connect" in doc["reason"], doc
    # Alive, though: /healthz says the process is up.
    status, doc, _ = admin_json(sluice, "GET", "/healthz")
    assert (status, doc) == (200, {"status": "ok"})

    # A request the limiter allowed and the upstream failed stays `allowed`, with a 5xx.
    assert get(sluice.port, "/api/headers", source="127.0.0.47").status == 502
    exp = wait_scrape(sluice, settled(1))
    assert exp.value("sluice_requests_total", route="api", method_class="read",
                     decision="allowed") == 1
    assert exp.value("sluice_responses_total", route="api", status_class="5xx") == 1
    assert exp.value("sluice_upstream_connect_errors_total") == 1


def raw_admin_exchange(port: int, head: bytes, deadline_s: float = 3.0) -> tuple[bytes, bool]:
    """Sends `head`; returns what came back and whether the server closed within the deadline."""
    with socket.create_connection(("127.0.0.1", port), timeout=deadline_s) as s:
        s.sendall(head)
        try:
            return read_until_closed(s, deadline_s), True
        except (AssertionError, socket.timeout):
            return b"", False


def test_healthz_honours_connection_close(make_sluice):
    sluice = make_sluice(ROUTES)
    for head in (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                 b"GET /healthz HTTP/1.0\r\n\r\n"):
        data, closed = raw_admin_exchange(sluice.admin_port, head)
        assert closed and data.startswith(head.split(b"\r\n")[0][-8:] + b" 200"), (head, data)


def test_readyz_honours_connection_close(make_sluice):
    sluice = make_sluice(ROUTES)
    for head in (b"GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                 b"GET /readyz HTTP/1.0\r\n\r\n"):
        data, closed = raw_admin_exchange(sluice.admin_port, head)
        assert closed and data.startswith(head.split(b"\r\n")[0][-8:] + b" 200"), (head, data)


def test_metrics_off(make_sluice):
    sluice = make_sluice(ROUTES, top="metrics: {enabled: false}\n")
    status, doc, _ = admin_json(sluice, "GET", "/metrics")
    assert status == 404 and "metrics" in doc["error"], doc
    assert get(sluice.port, "/api/headers", source="127.0.0.45").status == 200
    assert statuses(sluice.port, "/api/headers", QUOTA, "127.0.0.46") == [200] * QUOTA
    assert get(sluice.port, "/api/headers", source="127.0.0.46").status == 429
    assert admin_json(sluice, "GET", "/healthz")[0] == 200


def test_an_admin_address_in_use_stops_the_start_with_a_clear_error(tmp_path, stub):
    """A sluice whose admin listener cannot bind does not run half-watchable: exit 1, and the
    log says which address and why."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        (tmp_path / "admin.yaml").write_text(
            f"listen: 127.0.0.1:0\nupstream: {{address: 127.0.0.1:{stub.port}}}\n"
            f"access_log: off\nadmin: {{listen: 127.0.0.1:{port}}}\n")
        returncode, stderr = run_sluice_to_exit(tmp_path, "admin.yaml")
    assert returncode == 1, stderr
    assert f"cannot listen on admin.listen 127.0.0.1:{port}: Address already in use" in stderr
    assert "listening on" not in stderr
