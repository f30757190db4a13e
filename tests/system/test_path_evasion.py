"""The client chooses the spelling, the backend chooses the handler: whatever spelling of a
protected request a client sends, the backend behind sluice runs the protected handler no more
often than its limit allows.

Every test runs against each of the real backends in tests/system/backends/, which nobody here
wrote: FastAPI on uvicorn, Flask on Werkzeug, nginx as the origin, sluice -> nginx
(`proxy_pass http://app/;`) -> FastAPI, Express, and a Node http server routing on the WHATWG URL
parser. Each decodes, folds or resolves some spellings of /api/system/stats or /api/auth/register
into the protected handler; the handler counts are read from the backend itself, never through
sluice. sluice has stats 60/minute per ip (GET), register 10/minute per ip (POST), health and
/api/admin/ exempt, and a generous default route (spellings.sluice_routes()).

The spellings (spellings.py) go out as raw bytes: http.client would tidy some of them. A backend
that cannot start fails its tests, naming what is missing. test_path_evasion_stub.py makes the
same checks against upstream-stub --routing loose, without these backends.
"""

import json

import pytest

import backends
from conftest import sluice_config
from evasion_checks import (METHOD_VARIANTS, assert_backend_pick_within_quota,
                            assert_identity_replaced, assert_method_variant_counted,
                            assert_mix_within_quota, assert_quota_then_spellings, identity_probe,
                            send_spelling)
from spellings import (REGISTER_CANONICAL, REGISTER_QUOTA, REGISTER_SPELLINGS, STATS_CANONICAL,
                       STATS_QUOTA, STATS_SPELLINGS, sluice_routes)


@pytest.fixture(scope="module", params=backends.KINDS)
def backend(request, tmp_path_factory):
    """One real backend of each kind, shared by this file's tests (they read counts as deltas)."""
    started = backends.start_backend(request.param, tmp_path_factory.mktemp(request.param))
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def sluice(launcher, backend):
    """A fresh sluice (fresh limits) in front of `backend`."""
    return launcher.start_sluice(sluice_config(backend.port, sluice_routes()))


def runs(backend, handler: str):
    return lambda: backend.hits()[handler]


# Per protected handler: its plain spelling, its table, its quota and the size of a mix.
PROTECTED = {
    "stats": (STATS_CANONICAL, STATS_SPELLINGS, STATS_QUOTA, 70),
    "register": (REGISTER_CANONICAL, REGISTER_SPELLINGS, REGISTER_QUOTA, 15),
}


@pytest.mark.parametrize("handler", PROTECTED)
def test_quota_holds_whatever_the_spelling(sluice, backend, handler):
    # The quota spent with the plain spelling, then every spelling once: none may run the
    # handler again.
    canonical, spellings, quota, _ = PROTECTED[handler]
    assert_quota_then_spellings(sluice.port, canonical, spellings, quota, "127.0.0.21",
                                runs(backend, handler))


@pytest.mark.parametrize("handler", PROTECTED)
def test_a_mix_of_spellings_stays_within_the_quota(sluice, backend, handler):
    # 70 stats (15 register) requests from one client going round the whole table.
    _, spellings, quota, count = PROTECTED[handler]
    assert_mix_within_quota(sluice.port, spellings, count, quota, "127.0.0.22",
                            runs(backend, handler))


@pytest.mark.parametrize("handler", PROTECTED)
def test_the_backends_own_spellings_stay_within_the_quota(sluice, backend, handler):
    # The mix an attacker would pick: the spellings this backend serves with the handler when
    # asked directly, 70 (15) requests going round them through sluice.
    _, spellings, quota, count = PROTECTED[handler]
    assert_backend_pick_within_quota(sluice.port, backend.port, spellings, count, quota,
                                     ("127.0.0.1", "127.0.0.23"), runs(backend, handler))


@pytest.mark.parametrize("variant", METHOD_VARIANTS)
def test_head_and_lower_case_post_are_counted(sluice, backend, variant):
    handler = METHOD_VARIANTS[variant][0].handler
    assert_method_variant_counted(sluice.port, variant, "127.0.0.24", runs(backend, handler))


def test_forwarded_identity_from_an_untrusted_peer_is_replaced(sluice, backend):
    source = "127.0.0.27"
    answer = send_spelling(sluice.port, identity_probe("/api/whoami"), source)
    assert answer.status == 200, answer.describe()
    doc = json.loads(answer.body)
    assert doc["handler"] == "none", doc
    # Behind the chain, nginx sets X-Real-IP to its own peer (sluice).
    assert_identity_replaced(doc["headers"], source,
                             real_ip_from_sluice=backend.kind != "nginx_fastapi")
    if "scheme" in doc:
        # What the app believes it was asked (uvicorn trusts X-Forwarded-* from 127.0.0.1).
        assert doc["scheme"] == "http", doc
