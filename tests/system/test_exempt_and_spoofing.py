"""Who is counted and as whom: exempt routes, the allowlist, and X-Forwarded-For.

Exempt routes and allowlisted clients are never limited and never counted. A client cannot pick
its own key by sending X-Forwarded-For unless its peer address is a trusted proxy, and the
upstream only ever sees the real peer (or the chain a trusted proxy vouches for).
"""

import re

from conftest import connect, get, send

QUOTA = 5

ROUTES = f"""
allowlist: [127.0.0.50/32]
routes:
  - name: health
    path: /health
    exempt: true
  - name: admin
    prefix: /api/admin/
    exempt: true
  - name: headers
    path: /api/headers
    limits:
      - per: ip
        rate: {QUOTA}/minute
default:
  limits:
    - per: ip
      rate: {QUOTA}/minute
    - per: route
      rate: 1000/minute
"""

TRUSTED = "client_ip: {trusted_proxies: [127.0.0.1/32]}\n"


def statuses(port, path, count, source, headers_for=lambda i: {}):
    return [get(port, path, source=source, headers=headers_for(i)).status for i in range(count)]


def test_health_is_exempt_and_uncounted(make_sluice):
    sluice = make_sluice(ROUTES)
    conn = connect(sluice.port, "127.0.0.41")
    try:
        codes = [send(conn, "GET", "/health").status for _ in range(1000)]
    finally:
        conn.close()
    assert codes == [200] * 1000
    # 1000 exempt requests used nothing: the same client still has its whole quota on a
    # limited route, and on the default route (whose limits also apply per ip).
    assert statuses(sluice.port, "/api/headers", QUOTA + 1, "127.0.0.41") == \
        [200] * QUOTA + [429]
    assert statuses(sluice.port, "/no-such-path", QUOTA + 1, "127.0.0.41") == \
        [404] * QUOTA + [429]
    # And the proxy logged them as exempt, not as allowed by a limit.
    health = sluice.wait_access_entries(lambda e: e["path"] == "/health", 1000)
    assert len(health) == 1000
    assert {(e["route"], e["decision"], e["status"]) for e in health} == {("health", "exempt", 200)}


def test_admin_prefix_is_exempt(make_sluice):
    sluice = make_sluice(ROUTES)
    # The stub has no admin endpoints: 404 from the upstream, but never a 429, although the
    # same client is limited to 5 on the default route.
    codes = statuses(sluice.port, "/api/admin/users", 3 * QUOTA, "127.0.0.42")
    assert codes == [404] * (3 * QUOTA)
    assert statuses(sluice.port, "/elsewhere", QUOTA + 1, "127.0.0.42") == [404] * QUOTA + [429]


def test_allowlisted_client_is_never_limited(make_sluice):
    sluice = make_sluice(ROUTES)
    assert statuses(sluice.port, "/api/headers", 4 * QUOTA, "127.0.0.50") == [200] * (4 * QUOTA)
    assert statuses(sluice.port, "/elsewhere", 4 * QUOTA, "127.0.0.50") == [404] * (4 * QUOTA)
    logged = sluice.wait_access_entries(lambda e: e["client"] == "127.0.0.50", 8 * QUOTA)
    assert {e["decision"] for e in logged} == {"exempt"}
    # Its neighbour is limited as usual.
    assert statuses(sluice.port, "/api/headers", QUOTA + 1, "127.0.0.51") == [200] * QUOTA + [429]


def test_spoofed_forwarded_for_from_untrusted_peer_does_not_change_the_key(make_sluice):
    sluice = make_sluice(ROUTES)
    source = "127.0.0.60"
    spoof = lambda i: {"X-Forwarded-For": f"203.0.113.{i + 1}", "Forwarded": f"for=198.51.100.{i + 1}"}
    responses = [get(sluice.port, "/api/headers", source=source, headers=spoof(i))
                 for i in range(QUOTA + 3)]
    assert [r.status for r in responses] == [200] * QUOTA + [429] * 3
    # The upstream sees the real peer only; the client's claims do not reach it.
    for r in responses[:QUOTA]:
        seen = r.json()["headers"]
        assert seen["x-forwarded-for"] == source, seen
    entries = sluice.wait_access_entries(lambda e: e["path"] == "/api/headers", QUOTA + 3)
    assert {e["client"] for e in entries} == {source}


def test_forwarded_for_from_trusted_proxy_keys_by_the_client(make_sluice):
    sluice = make_sluice(ROUTES, top=TRUSTED)

    def from_proxy(client, count):
        return [get(sluice.port, "/api/headers", source="127.0.0.1",
                    headers={"X-Forwarded-For": client}) for _ in range(count)]

    first = from_proxy("10.1.0.1", QUOTA + 2)
    second = from_proxy("10.1.0.2", QUOTA + 2)
    # Each client behind the proxy has its own quota (not one shared by the proxy's address).
    assert [r.status for r in first] == [200] * QUOTA + [429] * 2
    assert [r.status for r in second] == [200] * QUOTA + [429] * 2
    # The upstream sees the chain: the client the proxy vouched for, then the proxy itself.
    seen = first[0].json()["headers"]["x-forwarded-for"]
    assert [part.strip() for part in seen.split(",")] == ["10.1.0.1", "127.0.0.1"], seen
    entries = sluice.wait_access_entries(lambda e: e["path"] == "/api/headers", 2 * (QUOTA + 2))
    assert {e["client"] for e in entries} == {"10.1.0.1", "10.1.0.2"}

    # A peer that is not a trusted proxy still cannot pick its key, even with this config.
    spoofed = [get(sluice.port, "/api/headers", source="127.0.0.61",
                   headers={"X-Forwarded-For": f"10.2.0.{i}"}) for i in range(QUOTA + 1)]
    assert [r.status for r in spoofed] == [200] * QUOTA + [429]
    assert spoofed[0].json()["headers"]["x-forwarded-for"] == "127.0.0.61"


def test_request_id_kept_when_sent_and_generated_when_not(make_sluice):
    sluice = make_sluice(ROUTES)
    sent = get(sluice.port, "/api/headers", source="127.0.0.62",
               headers={"X-Request-Id": "test-req-0042"})
    assert sent.status == 200
    assert sent.json()["headers"]["x-request-id"] == "test-req-0042"
    assert sent.header("X-Request-Id") == "test-req-0042"

    generated = [get(sluice.port, "/api/headers", source="127.0.0.62") for _ in range(2)]
    ids = []
    for r in generated:
        assert r.status == 200
        upstream_id = r.json()["headers"].get("x-request-id")
        assert upstream_id and re.fullmatch(r"[A-Za-z0-9._-]{8,}", upstream_id), upstream_id
        assert r.header("X-Request-Id") == upstream_id
        ids.append(upstream_id)
    assert ids[0] != ids[1]

    # A refusal carries an id too, and the access log records the one the client sent.
    for _ in range(QUOTA):
        get(sluice.port, "/api/headers", source="127.0.0.62")
    refused = get(sluice.port, "/api/headers", source="127.0.0.62",
                  headers={"X-Request-Id": "test-req-0043"})
    assert refused.status == 429
    assert refused.header("X-Request-Id") == "test-req-0043"
    logged = sluice.wait_access_entries(lambda e: e["request_id"] in ("test-req-0042",
                                                                      "test-req-0043"), 2)
    assert sorted(e["request_id"] for e in logged) == ["test-req-0042", "test-req-0043"]


def test_forwarding_fields_describe_the_client_that_was_judged(make_sluice):
    sluice = make_sluice(ROUTES + TRUSTED)

    def upstream_saw(source, headers):
        r = get(sluice.port, "/api/headers", source=source, headers=headers)
        assert r.status == 200, r.body
        return r.json()["headers"]

    forged = {"X-Real-IP": "203.0.113.1", "X-Forwarded-Host": "evil.example",
              "X-Original-URL": "/api/admin/x", "True-Client-IP": "203.0.113.2",
              "Forwarded": "for=203.0.113.3"}
    # From a peer that is no trusted proxy: nothing it says about itself reaches the upstream.
    seen = upstream_saw("127.0.0.61", forged)
    assert seen["x-real-ip"] == "127.0.0.61"
    assert seen["x-forwarded-for"] == "127.0.0.61"
    for name in ("x-forwarded-host", "x-original-url", "true-client-ip", "forwarded"):
        assert name not in seen, (name, seen)
    # From a trusted proxy that wrote only Forwarded: the client is its for=, and the upstream's
    # X-Forwarded-For and X-Real-IP say so.
    seen = upstream_saw("127.0.0.1", {"Forwarded": 'for="203.0.113.7:4711", for=127.0.0.1'})
    assert seen["x-real-ip"] == "203.0.113.7"
    assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1, 127.0.0.1"
    assert seen["forwarded"] == 'for="203.0.113.7:4711", for=127.0.0.1'
