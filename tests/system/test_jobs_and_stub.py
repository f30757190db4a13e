"""The seed API's flows through sluice: background jobs, sign-up and login, unknown paths."""

import json
import time

from conftest import get, request

# The shipped limits for the auth endpoints, and a job route as in config/sluice.yaml's example.
ROUTES = """
routes:
  - name: health
    path: /health
    exempt: true
  - name: login
    path: /api/auth/login
    limits:
      - per: ip
        rate: 30/minute
  - name: register
    path: /api/auth/register
    limits:
      - per: ip
        rate: 10/minute
  - name: jobs
    path: /api/jobs
    methods: [POST]
    limits:
      - per: ip
        rate: 20/minute
        max_in_flight: 2
default:
  limits:
    - per: ip
      rate: 600/minute
"""

JSON = {"Content-Type": "application/json"}


def post_json(port, path, doc, source):
    return request(port, "POST", path, source=source, body=json.dumps(doc).encode(), headers=JSON)


def test_job_submit_and_poll_until_done(make_sluice):
    sluice = make_sluice(ROUTES)
    submitted = post_json(sluice.port, "/api/jobs", {"duration_ms": 300, "input": {"n": 7}},
                          "127.0.0.131")
    assert submitted.status == 202
    location = submitted.header("Location")
    assert location and location.startswith("/api/jobs/"), location
    assert submitted.json()["status"] == "queued"

    seen = []
    deadline = time.monotonic() + 10
    job = None
    while time.monotonic() < deadline:
        polled = get(sluice.port, location, source="127.0.0.131")
        assert polled.status == 200
        job = polled.json()
        seen.append(job["status"])
        if job["status"] == "done":
            break
        time.sleep(0.1)
    assert job is not None and job["status"] == "done", seen
    assert job["result"]["echo"] == {"n": 7}
    assert set(seen) <= {"queued", "running", "done"}

    missing = get(sluice.port, "/api/jobs/no-such-job", source="127.0.0.131")
    assert missing.status == 404
    assert missing.json()["error"]


def test_register_and_login(make_sluice):
    sluice = make_sluice(ROUTES)
    creds = {"username": "ada", "password": "correct horse"}
    src = "127.0.0.132"
    assert post_json(sluice.port, "/api/auth/register", creds, src).status == 201
    assert post_json(sluice.port, "/api/auth/register", creds, src).status == 409
    login = post_json(sluice.port, "/api/auth/login", creds, src)
    assert login.status == 200
    assert login.json()["token"]
    wrong = post_json(sluice.port, "/api/auth/login", {**creds, "password": "nope"}, src)
    assert wrong.status == 401
    assert post_json(sluice.port, "/api/auth/login", {"username": "ada"}, src).status == 400

    # Sign-up spam meets the route's limit: 10 a minute per client, 2 already used.
    codes = [post_json(sluice.port, "/api/auth/register",
                       {"username": f"bot{i}", "password": "x"}, src).status for i in range(9)]
    assert codes == [201] * 8 + [429]
    # The login route has its own count.
    assert post_json(sluice.port, "/api/auth/login", creds, src).status == 200


def test_unknown_path_is_json_404(make_sluice):
    sluice = make_sluice(ROUTES)
    r = get(sluice.port, "/api/does/not/exist", source="127.0.0.133")
    assert r.status == 404
    assert r.header("Content-Type").startswith("application/json")
    assert r.json()["error"]
    # The seed's health endpoint answers through sluice.
    health = get(sluice.port, "/health", source="127.0.0.133")
    assert health.status == 200 and health.json()["status"] == "healthy"
