"""Limit kinds and route matching end to end, and the config checker / loader at the command line.

Windows here are a minute long, so a test's quota never refills while it runs; the token bucket
is the one place where time matters, and its margins are a quarter of an interval or more.
"""

import re
import subprocess
import threading
import time

from conftest import connect, get, request, run_sluice_to_exit, send, sluice_bin, source_dir

ROUTES = """
routes:
  - name: everyone
    path: /api/services
    limits:
      - per: route
        rate: 5/minute
  - name: keyed
    path: /api/headers
    limits:
      - per: header X-Api-Key
        rate: 3/minute
  - name: bucket
    path: /api/system/ports
    limits:
      - per: ip
        rate: 2/second
        algorithm: token_bucket
        burst: 4
  - name: slow
    prefix: /api/delay
    limits:
      - per: ip
        max_in_flight: 2
  - name: files
    glob: /api/projects/*/files/**
    limits:
      - per: ip
        rate: 2/minute
  - name: echo-post
    path: /api/echo
    methods: [POST]
    limits:
      - per: ip
        rate: 2/minute
"""


def codes(port, path, count, source, method="GET", headers=None, body=None):
    return [request(port, method, path, source=source, headers=headers, body=body).status
            for _ in range(count)]


def test_per_route_limit_is_shared_by_all_clients(make_sluice):
    sluice = make_sluice(ROUTES)
    sources = ["127.0.0.111", "127.0.0.112", "127.0.0.113"]
    statuses = [get(sluice.port, "/api/services", source=sources[i % 3]).status
                for i in range(9)]
    assert statuses == [200] * 5 + [429] * 4
    # A fresh client finds the route's quota spent too.
    refused = get(sluice.port, "/api/services", source="127.0.0.114")
    assert refused.status == 429
    assert refused.json()["limit"] == "5/minute per route"


def test_per_header_limit_keys_by_header_value_and_falls_back_to_ip(make_sluice):
    sluice = make_sluice(ROUTES)
    key_a = {"X-Api-Key": "key-a"}
    key_b = {"x-api-key": "key-b"}  # the name is matched case-insensitively
    assert codes(sluice.port, "/api/headers", 5, "127.0.0.115", headers=key_a) == [200] * 3 + [429] * 2
    # The quota follows the key, not the address: key-a is spent from anywhere...
    assert codes(sluice.port, "/api/headers", 1, "127.0.0.116", headers=key_a) == [429]
    # ...and key-b has its own, from the same address that spent key-a.
    assert codes(sluice.port, "/api/headers", 4, "127.0.0.115", headers=key_b) == [200] * 3 + [429]
    # Without the header (or with it empty) each client address is its own key.
    assert codes(sluice.port, "/api/headers", 4, "127.0.0.117") == [200] * 3 + [429]
    assert codes(sluice.port, "/api/headers", 4, "127.0.0.118",
                 headers={"X-Api-Key": ""}) == [200] * 3 + [429]
    # A client that used its address quota can still use a key.
    assert codes(sluice.port, "/api/headers", 1, "127.0.0.117",
                 headers={"X-Api-Key": "key-c"}) == [200]


def test_token_bucket_admits_a_burst_then_one_per_interval(make_sluice):
    # rate 2/second: one token every 500 ms; the bucket holds 4. The exact edges are unit-tested
    # on the manual clock (tests/unit/limiter/token_bucket_test.cpp); here the wiring is checked
    # with bounds that a slow machine cannot break: a full bucket admits 4 at once, no prefix of
    # the run admits more than 4 plus one per 500 ms elapsed since it started, and a token comes
    # back (within a bounded wait).
    sluice = make_sluice(ROUTES)
    conn = connect(sluice.port, "127.0.0.119")
    interval = 0.5
    try:
        start = time.monotonic()
        sent = []  # (status, time the answer arrived)

        def one():
            res = send(conn, "GET", "/api/system/ports")
            sent.append((res.status, time.monotonic()))
            return res

        burst = [one().status for _ in range(6)]
        assert burst[:4] == [200] * 4
        # Requests faster than the refill meet an empty bucket (a few tries bound the wait).
        refused = next((res for res in (one() for _ in range(20)) if res.status == 429), None)
        assert refused is not None, sent
        assert int(refused.header("Retry-After")) == 1  # under 500 ms, rounded up
        # Poll until a token has come back, then keep polling for a while: refill is one token
        # per interval, never a second burst.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and sent[-1][0] != 200:
            one()
            time.sleep(0.05)
        assert sent[-1][0] == 200, "no token came back within 10 s"
        polled_until = time.monotonic() + 1.5
        while time.monotonic() < polled_until:
            one()
            time.sleep(0.05)
        admitted = 0
        for status, at in sent:
            admitted += status == 200
            assert admitted <= 4 + int((at - start) / interval), (admitted, at - start, sent)
        assert any(status == 429 for status, _ in sent[4:])
    finally:
        conn.close()


def test_max_in_flight_refuses_at_once_and_frees_slots(make_sluice):
    sluice = make_sluice(ROUTES)
    barrier = threading.Barrier(5, timeout=10)
    results = [None] * 5

    def one(i):
        barrier.wait()
        results[i] = get(sluice.port, "/api/delay?ms=1000", source="127.0.0.120", timeout=10)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    ok = [r for r in results if r is not None and r.status == 200]
    refused = [r for r in results if r is not None and r.status == 429]
    assert len(ok) == 2 and len(refused) == 3, [r and r.status for r in results]
    assert all(r.elapsed_s >= 0.9 for r in ok)
    assert all(r.elapsed_s < 0.5 for r in refused), [r.elapsed_s for r in refused]
    assert refused[0].json()["route"] == "slow"
    # Another client is not affected by this one's slots.
    assert get(sluice.port, "/api/delay?ms=10", source="127.0.0.121").status == 200
    # Both slots are free again once the slow requests finished: two more at once both pass.
    again = [None, None]

    def later(i):
        again[i] = get(sluice.port, "/api/delay?ms=200", source="127.0.0.120").status

    threads = [threading.Thread(target=later, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert again == [200, 200]


def test_glob_route(make_sluice):
    sluice = make_sluice(ROUTES)
    # The stub has no such paths (404), which does not matter: the route counts requests.
    matched = [get(sluice.port, path, source="127.0.0.122") for path in
               ("/api/projects/7/files/a/b.txt", "/api/projects/8/files/x",
                "/api/projects/9/files/deep/er/c")]
    assert [r.status for r in matched] == [404, 404, 429]
    assert matched[2].json()["route"] == "files"
    # `*` is one segment: two segments between projects and files do not match the glob, so
    # the unlimited default route takes them.
    assert codes(sluice.port, "/api/projects/7/8/files/x", 4, "127.0.0.122") == [404] * 4
    entries = sluice.wait_access_entries(lambda e: e["path"].startswith("/api/projects/"), 7)
    # (Workers flush their own log buffers, so lines are not in request order across workers.)
    routes = {(e["path"], e["route"]) for e in entries}
    assert routes == {("/api/projects/7/files/a/b.txt", "files"), ("/api/projects/8/files/x", "files"),
                      ("/api/projects/9/files/deep/er/c", "files"),
                      ("/api/projects/7/8/files/x", "default")}


def test_method_specific_route(make_sluice):
    sluice = make_sluice(ROUTES)
    # GET is not on the POST-only route: the default route (no limits) takes it; the stub says 405.
    assert codes(sluice.port, "/api/echo", 4, "127.0.0.123") == [405] * 4
    assert codes(sluice.port, "/api/echo", 3, "127.0.0.123", method="POST", body=b"hi",
                 headers={"Content-Type": "text/plain"}) == [200, 200, 429]
    # POSTs being spent leaves GETs alone.
    assert codes(sluice.port, "/api/echo", 1, "127.0.0.123") == [405]


# --------------------------------------------------------------------------------------------
# The config at the command line

BAD_CONFIG = """upstream: {address: 127.0.0.1:9000}
routes:
  - name: stats
    path: /api/system/stats
    limits:
      - per: ip
        rate: 60/minnute
"""
BAD_MESSAGE = ('bad.yaml:7:15: routes[0].limits[0].rate: "60/minnute": '
               'unknown unit (second, minute, hour, day)')


def test_check_accepts_the_shipped_config():
    shipped = source_dir() / "config" / "sluice.yaml"
    result = subprocess.run([sluice_bin(), "check", str(shipped)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    # Every route of the shipped file is listed, the default last, then what the path
    # handling choices mean.
    lines = [line for line in result.stdout.splitlines()[1:] if line.strip()]
    routes = [line for line in lines if not line.startswith(("paths.", "warning:"))]
    names = [line.split()[0] for line in routes]
    assert names == ["health", "admin", "ws", "system-ws", "system-metrics", "stats", "ports",
                     "services", "login", "register",
                     "default"]
    assert [line.split()[0] for line in lines if line.startswith("paths.")] == [
        "paths.escaped_slashes:", "paths.backslash:", "paths.path_params:"]
    assert not [line for line in lines if line.startswith("warning:")]


def test_check_request_judges_like_the_proxy():
    shipped = source_dir() / "config" / "sluice.yaml"

    def judge(*args):
        result = subprocess.run([sluice_bin(), "check", str(shipped), *args],
                                capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        return result.stdout[result.stdout.index("request "):]

    out = judge("--request", "get /API/admin/../system/%73tats;x=1?q=1", "--ip", "127.0.0.9")
    assert "forwarded as GET /API/system/stats;x=1?q=1" in out, out
    assert "route stats (matched on /API/system/stats)" in out, out
    assert "limit 60/minute per ip" in out, out
    out = judge("--request", "GET /api/admin/..%2Fsystem/stats")
    assert "refused, 400: an encoded" in out, out
    out = judge("--request", "HEAD /health/")
    assert "route health" in out and "exempt" in out, out
    bad = subprocess.run([sluice_bin(), "check", str(shipped), "--request", "GET"],
                         capture_output=True, text=True, timeout=20)
    assert bad.returncode == 2 and "METHOD TARGET" in bad.stderr


def test_check_warns_on_a_token_bucket_of_burst_one(tmp_path):
    config = tmp_path / "burst.yaml"
    config.write_text("upstream: {address: 127.0.0.1:9000}\n"
                      "routes:\n"
                      "  - name: strict\n"
                      "    path: /x\n"
                      "    limits: [{per: ip, rate: 10/second, algorithm: token_bucket, burst: 1}]\n")
    result = subprocess.run([sluice_bin(), "check", str(config)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stdout.splitlines() if line.startswith("warning:")]
    assert len(warning) == 1 and "burst 1" in warning[0] and "sliding_window" in warning[0]


def test_check_rejects_a_bad_config_with_file_line_col(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_CONFIG)
    result = subprocess.run([sluice_bin(), "check", "bad.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 1
    assert BAD_MESSAGE in result.stderr, result.stderr
    assert re.search(r"^bad\.yaml:\d+:\d+: ", result.stderr, re.M)


def test_sluice_refuses_to_start_on_a_bad_config(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD_CONFIG)
    returncode, stderr = run_sluice_to_exit(tmp_path, "bad.yaml")
    assert returncode == 1
    assert BAD_MESSAGE in stderr, stderr
    assert "listening on" not in stderr


# A listener on port 0 takes any free port; sluice logs the real one (the tests rely on it).
def test_listen_port_zero_is_accepted(tmp_path):
    config = tmp_path / "zero.yaml"
    config.write_text("listen: 127.0.0.1:0\nupstream: {address: 127.0.0.1:9000}\n")
    result = subprocess.run([sluice_bin(), "check", str(config)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 0, result.stderr


# The seed's backend ran as 13 stray copies. A second sluice on the same address must fail to
# bind and say why, not quietly share the port with its own separate limiter.
def test_second_copy_on_the_same_address_refuses_to_start(make_sluice, stub, tmp_path):
    first = make_sluice()
    config = tmp_path / "second.yaml"
    config.write_text(f"listen: 127.0.0.1:{first.port}\n"
                      f"upstream: {{address: 127.0.0.1:{stub.port}}}\n"
                      "access_log: off\n")
    result = subprocess.run([sluice_bin(), "--config", str(config)], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode == 1, result.stderr
    assert "Address already in use" in result.stderr
    assert "another sluice" in result.stderr
    # The first copy still serves.
    assert get(first.port, "/api/headers").status == 200
