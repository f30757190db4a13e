"""Path evasion without the real backends: the checks of test_path_evasion.py against
`upstream-stub --routing loose`, which reads a target the way the most lenient frameworks do
(every %XX decoded, '\\' as '/', ;params cut, dot segments resolved after decoding, slashes merged,
case folded, trailing slash ignored, absolute-form accepted, the method upper-cased). Whatever
spelling a client sends, the stub's protected handlers run no more often than sluice's limits
allow; each spelling is answered as spellings.py says sluice must (400 with a JSON error, or
judged by the protected route); forged forwarding fields never reach the stub.

Handler runs are read from the stub's GET /api/hits, asked of the stub directly.
"""

import json

import pytest

from conftest import get, sluice_config
from evasion_checks import (METHOD_VARIANTS, assert_backend_pick_within_quota,
                            assert_identity_replaced, assert_method_variant_counted,
                            assert_mix_within_quota, assert_quota_then_spellings, identity_probe,
                            send_counting, send_spelling, spend_quota)
from spellings import (COUNTED, OTHER, REFUSED, REGISTER_CANONICAL, REGISTER_QUOTA,
                       REGISTER_SPELLINGS, STATS_CANONICAL, STATS_QUOTA, STATS_SPELLINGS,
                       sluice_routes)

# Per protected handler: the stub's endpoint, the plain spelling, the table, the quota and the
# size of a mix.
PROTECTED = {
    "stats": ("/api/system/stats", STATS_CANONICAL, STATS_SPELLINGS, STATS_QUOTA, 70),
    "register": ("/api/auth/register", REGISTER_CANONICAL, REGISTER_SPELLINGS, REGISTER_QUOTA,
                 15),
}
ENDPOINT = {handler: spec[0] for handler, spec in PROTECTED.items()}


@pytest.fixture
def loose_stub(launcher):
    return launcher.start_stub("--routing", "loose", "--stats-interval", "0")


@pytest.fixture
def sluice(launcher, loose_stub):
    return launcher.start_sluice(sluice_config(loose_stub.port, sluice_routes()))


def runs(stub_proc, handler: str):
    """Runs of the stub's endpoint for `handler`, from the stub itself."""
    endpoint = ENDPOINT[handler]
    return lambda: get(stub_proc.port, "/api/hits").json()["routes"][endpoint]


def test_loose_routing_serves_what_lenient_frameworks_serve(launcher, loose_stub):
    # Straight to the stubs, no sluice: the loose one runs the handler for spellings some
    # framework serves, the exact one (the default) does not. Without this the tests below
    # could pass against a stub that is not loose at all.
    exact_stub = launcher.start_stub("--stats-interval", "0")
    lenient = [s for s in STATS_SPELLINGS + REGISTER_SPELLINGS if s.name in {
        "%2F", "trailing %2F", "admin/..%2F", "admin/..\\ raw backslash", "admin/..;/ (Tomcat)",
        "upper-case /API", "trailing /", ";jsessionid", "http:/ (scheme, no authority)",
        "absolute-form, Host matches", "fragment #x", "method get", "method post"}]
    assert len(lenient) >= 14
    for stub_proc, want in ((loose_stub, 1), (exact_stub, 0)):
        for handler in PROTECTED:
            sent = send_counting(stub_proc.port, [s for s in lenient if s.handler == handler],
                                 "127.0.0.1", runs(stub_proc, handler))
            wrong = [s.describe() for s in sent if s.runs != want]
            assert not wrong, f"{stub_proc.name} (want {want} run each):\n" + "\n".join(wrong)


@pytest.mark.parametrize("handler", PROTECTED)
def test_quota_holds_whatever_the_spelling(sluice, loose_stub, handler):
    _, canonical, spellings, quota, _ = PROTECTED[handler]
    assert_quota_then_spellings(sluice.port, canonical, spellings, quota, "127.0.0.31",
                                runs(loose_stub, handler))


@pytest.mark.parametrize("handler", PROTECTED)
def test_a_mix_of_spellings_stays_within_the_quota(sluice, loose_stub, handler):
    _, _, spellings, quota, count = PROTECTED[handler]
    assert_mix_within_quota(sluice.port, spellings, count, quota, "127.0.0.32",
                            runs(loose_stub, handler))


@pytest.mark.parametrize("handler", PROTECTED)
def test_the_stubs_own_spellings_stay_within_the_quota(sluice, loose_stub, handler):
    _, _, spellings, quota, count = PROTECTED[handler]
    assert_backend_pick_within_quota(sluice.port, loose_stub.port, spellings, count, quota,
                                     ("127.0.0.1", "127.0.0.33"), runs(loose_stub, handler))


@pytest.mark.parametrize("variant", METHOD_VARIANTS)
def test_head_and_lower_case_post_are_counted(sluice, loose_stub, variant):
    handler = METHOD_VARIANTS[variant][0].handler
    assert_method_variant_counted(sluice.port, variant, "127.0.0.34", runs(loose_stub, handler))


@pytest.mark.parametrize("handler", PROTECTED)
def test_each_spelling_is_refused_or_counted_as_specified(sluice, loose_stub, handler):
    # With the quota spent, a spelling judged by the protected route gets 429 and a refused one
    # 400 with a JSON error (refusal comes before any route); any other is not limited.
    _, canonical, spellings, quota, _ = PROTECTED[handler]
    source = "127.0.0.35"
    spend_quota(sluice.port, canonical, quota, source, runs(loose_stub, handler))
    wrong = []
    for spelling in spellings:
        answer = send_spelling(sluice.port, spelling, source)
        if spelling.expect == COUNTED:
            ok = answer.status == 429
        elif spelling.expect == REFUSED:
            ok = answer.status == 400 and _json_error(answer.body)
        else:
            assert spelling.expect == OTHER
            ok = answer.status not in (0, 429) and answer.status < 500
        if not ok:
            wrong.append(f"  [{spelling.expect}] {spelling.method} {spelling.target!r} "
                         f"({spelling.name}): {answer.describe()}")
    assert not wrong, (f"{len(wrong)} of {len(spellings)} {handler} spellings answered other "
                       f"than specified:\n" + "\n".join(wrong))


def _json_error(body: bytes) -> bool:
    try:
        doc = json.loads(body)
    except ValueError:
        return False
    return isinstance(doc, dict) and isinstance(doc.get("error"), str)


def test_forwarded_identity_from_an_untrusted_peer_is_replaced(sluice):
    source = "127.0.0.36"
    answer = send_spelling(sluice.port, identity_probe("/api/headers"), source)
    assert answer.status == 200, answer.describe()
    assert_identity_replaced(json.loads(answer.body)["headers"], source)
