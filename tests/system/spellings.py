"""Spellings of the protected requests, shared by the path-evasion tests (real backends and the
stub's loose routing); evasion_checks.py sends them and holds the checks both files make.

A spelling is one way to write a request that some backend may serve with a protected handler
(`stats`: GET /api/system/stats, limited 60/minute per ip; `register`: POST /api/auth/register,
limited 10/minute per ip) while a proxy that reads it differently judges it under another route.
http.client would normalise some of them, so they go out as raw bytes (evasion_checks.py).

`expect` says what sluice must do with it once it canonicalises targets:
- COUNTED: judged under the protected route (answered 200, or 429 once the quota is spent);
- REFUSED: answered 400 with a JSON body, before any route is judged;
- OTHER: judged under some other route; the backends here must then not run the protected
  handler for it either (the bound of the tests catches one that does).
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTED = "counted"
REFUSED = "refused"
OTHER = "other"

# The Host (and absolute-form authority) a spelling is sent with: the address the client dialled.
AUTHORITY = "{authority}"
REGISTER_BODY = b'{"username":"evasion","password":"secret"}'


@dataclass(frozen=True)
class Spelling:
    """One request line (and, rarely, header fields) aimed at a protected handler."""

    name: str
    handler: str  # "stats" or "register"
    method: str
    target: str  # str of code points 0-255, sent as latin-1; AUTHORITY is filled in
    expect: str
    # Host field values: () sends none, two values send two fields.
    hosts: tuple[str, ...] = (AUTHORITY,)
    # Further header fields, (name, value).
    fields: tuple[tuple[str, str], ...] = ()


def _stats(name: str, target: str, expect: str, method: str = "GET", **kw) -> Spelling:
    return Spelling(name, "stats", method, target, expect, **kw)


def _register(name: str, target: str, expect: str, method: str = "POST", **kw) -> Spelling:
    return Spelling(name, "register", method, target, expect, **kw)


STATS_CANONICAL = _stats("canonical", "/api/system/stats", COUNTED)
REGISTER_CANONICAL = _register("canonical", "/api/auth/register", COUNTED)

STATS_SPELLINGS: tuple[Spelling, ...] = (
    STATS_CANONICAL,
    _stats("query", "/api/system/stats?x=1", COUNTED),
    _stats("escaped unreserved %73", "/api/system/%73tats", COUNTED),
    _stats("escaped unreserved %61", "/%61pi/system/stats", COUNTED),
    _stats("escaped upper-case letter %53", "/api/%53ystem/stats", COUNTED),
    _stats("%2F", "/api/system%2Fstats", REFUSED),
    _stats("%2f", "/api/system%2fstats", REFUSED),
    _stats("%2F twice", "/api%2Fsystem%2Fstats", REFUSED),
    _stats("leading %2F", "/%2Fapi/system/stats", REFUSED),
    _stats("trailing %2F", "/api/system/stats%2F", REFUSED),
    _stats("trailing /", "/api/system/stats/", COUNTED),
    _stats("inner //", "/api/system//stats", COUNTED),
    _stats("leading //", "//api/system/stats", COUNTED),
    _stats("leading ///", "///api/system/stats", COUNTED),
    _stats("//host/ (WHATWG authority)", "//host/api/system/stats", OTHER),
    _stats("/./ inside", "/api/./system/stats", COUNTED),
    _stats("/./ leading", "/./api/system/stats", COUNTED),
    _stats("trailing /.", "/api/system/stats/.", COUNTED),
    _stats("trailing x/..", "/api/system/stats/x/..", COUNTED),
    _stats("trailing /%2e", "/api/system/stats/%2e", COUNTED),
    _stats("%2E%2E back", "/api/system/stats/%2E%2E/stats", COUNTED),
    _stats("admin/../", "/api/admin/../system/stats", COUNTED),
    _stats("admin/%2e%2e/", "/api/admin/%2e%2e/system/stats", COUNTED),
    _stats("admin/..%2F", "/api/admin/..%2Fsystem/stats", REFUSED),
    _stats("admin/..%2f", "/api/admin/..%2fsystem/stats", REFUSED),
    _stats("admin/%2E%2E%2F all encoded", "/api/admin/%2E%2E%2Fsystem%2Fstats", REFUSED),
    _stats("admin/..\\ raw backslash", "/api/admin/..\\system\\stats", REFUSED),
    _stats("admin/..%5C", "/api/admin/..%5Csystem%5Cstats", REFUSED),
    _stats("admin/..%5c", "/api/admin/..%5csystem/stats", REFUSED),
    _stats("raw backslashes", "/api\\system\\stats", REFUSED),
    _stats("upper-case /API", "/API/system/stats", COUNTED),
    _stats("mixed case", "/api/SYSTEM/Stats", COUNTED),
    _stats("mixed case, trailing /", "/Api/System/sTaTs/", COUNTED),
    _stats(";jsessionid", "/api/system/stats;jsessionid=1", COUNTED),
    _stats(";x=1", "/api/system/stats;x=1", COUNTED),
    _stats(";param in a middle segment", "/api/system;x/stats", COUNTED),
    _stats("admin/..;/ (Tomcat)", "/api/admin/..;/system/stats", REFUSED),
    _stats(".;x segment", "/api/system/.;x/stats", REFUSED),
    _stats("trailing %20", "/api/system/stats%20", OTHER),
    _stats("trailing %00", "/api/system/stats%00", REFUSED),
    _stats("trailing %09", "/api/system/stats%09", REFUSED),
    _stats("inner %0A", "/api/system/st%0Aats", REFUSED),
    _stats("raw tab before version", "/api/system/stats\t", REFUSED),
    _stats("fragment #x", "/api/system/stats#x", REFUSED),
    _stats("escaped fragment %23x", "/api/system/stats%23x", OTHER),
    _stats("double-encoded %252F", "/api/system%252Fstats", REFUSED),
    _stats("admin/..%252F", "/api/admin/..%252Fsystem/stats", REFUSED),
    _stats("overlong %C0%AF", "/api/system%C0%AFstats", REFUSED),
    _stats("admin/..%C0%AF", "/api/admin/..%C0%AFsystem/stats", REFUSED),
    _stats("admin/..%E0%80%AF", "/api/admin/..%E0%80%AFsystem/stats", REFUSED),
    _stats("malformed %zz", "/api/system/stats%zz", REFUSED),
    _stats("truncated %", "/api/system/stats%", REFUSED),
    _stats("absolute-form, Host matches", "http://{authority}/api/system/stats", COUNTED),
    _stats("absolute-form, Host differs", "http://backend.example/api/system/stats", REFUSED),
    _stats("http:/ (scheme, no authority)", "http:/api/system/stats", REFUSED),
    _stats("asterisk-form with GET", "*", REFUSED),
    _stats("method get", "/api/system/stats", COUNTED, method="get"),
    _stats("method Get", "/api/system/stats", COUNTED, method="Get"),
    _stats("method HEAD", "/api/system/stats", COUNTED, method="HEAD"),
    _stats("no Host", "/api/system/stats", REFUSED, hosts=()),
    _stats("two Host fields", "/api/system/stats", REFUSED, hosts=(AUTHORITY, AUTHORITY)),
    _stats("invalid Host", "/api/system/stats", REFUSED, hosts=("bad host/x",)),
    _stats("Connection: Host", "/api/system/stats", REFUSED, fields=(("Connection", "Host"),)),
    _stats("Connection: Content-Length", "/api/system/stats", REFUSED,
           fields=(("Connection", "Content-Length"),)),
    _stats("Connection: Transfer-Encoding", "/api/system/stats", REFUSED,
           fields=(("Connection", "Transfer-Encoding"),)),
)

REGISTER_SPELLINGS: tuple[Spelling, ...] = (
    REGISTER_CANONICAL,
    _register("method post", "/api/auth/register", COUNTED, method="post"),
    _register("method Post", "/api/auth/register", COUNTED, method="Post"),
    _register("trailing /", "/api/auth/register/", COUNTED),
    _register("upper-case /API", "/API/auth/register", COUNTED),
    _register("upper-case Register", "/api/auth/Register", COUNTED),
    _register("escaped unreserved %72", "/api/auth/%72egister", COUNTED),
    _register("inner //", "/api/auth//register", COUNTED),
    _register("leading //", "//api/auth/register", COUNTED),
    _register("/./ inside", "/api/auth/./register", COUNTED),
    _register("trailing /.", "/api/auth/register/.", COUNTED),
    _register("admin/../", "/api/admin/../auth/register", COUNTED),
    _register(";x=1", "/api/auth/register;x=1", COUNTED),
    _register("absolute-form, Host matches", "http://{authority}/api/auth/register", COUNTED),
    _register("admin/..%2F", "/api/admin/..%2Fauth/register", REFUSED),
    _register("admin/..\\ raw backslash", "/api/admin/..\\auth\\register", REFUSED),
    _register("%2F", "/api/auth%2Fregister", REFUSED),
    _register("leading %2F", "/%2Fapi/auth/register", REFUSED),
    _register("trailing %2F", "/api/auth/register%2F", REFUSED),
    _register("http:/ (scheme, no authority)", "http:/api/auth/register", REFUSED),
    _register("fragment #x", "/api/auth/register#x", REFUSED),
)

ALL_SPELLINGS = STATS_SPELLINGS + REGISTER_SPELLINGS

# Answers a proxy may give to any of these; anything else (a 5xx above all, or a connection
# closed unanswered) fails the tests. A backend's redirects (Werkzeug's 308), refusals (400, 404,
# 405) and the stub's 409 for a user registered twice are its own affair.
ACCEPTABLE_STATUSES = frozenset({200, 201, 301, 302, 307, 308, 400, 404, 405, 409, 429})

STATS_QUOTA = 60
REGISTER_QUOTA = 10


def sluice_routes(default_rate: str = "100000/minute") -> str:
    """The routes of every path-evasion test: stats and register limited, health and admin
    exempt, a generous default."""
    return f"""
routes:
  - name: health
    path: /health
    exempt: true
  - name: admin
    prefix: /api/admin/
    exempt: true
  - name: stats
    path: /api/system/stats
    methods: [GET]
    limits:
      - per: ip
        rate: {STATS_QUOTA}/minute
  - name: register
    path: /api/auth/register
    methods: [POST]
    limits:
      - per: ip
        rate: {REGISTER_QUOTA}/minute
default:
  limits:
    - per: ip
      rate: {default_rate}
"""
