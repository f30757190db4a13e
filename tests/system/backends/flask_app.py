"""The test backend on Flask, served by Werkzeug's own server: the five handlers every backend
here serves, each counting its runs; GET /__hits (asked of this port directly) returns the counts.

Run: /usr/bin/python3 tests/system/backends/flask_app.py PORT
"""

import sys
import threading
from collections import Counter

from flask import Flask, jsonify, request

ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

app = Flask(__name__)
_hits: Counter = Counter()
_lock = threading.Lock()


def _answer(name: str):
    with _lock:
        _hits[name] += 1
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return jsonify(handler=name, method=request.method, path=request.path,
                   scheme=request.scheme, client=request.remote_addr, headers=headers)


@app.get("/__hits")
def hits():
    with _lock:
        return jsonify(dict(_hits))


@app.get("/api/system/stats")
def stats():
    return _answer("stats")


@app.post("/api/auth/register")
def register():
    return _answer("register")


@app.route("/health", methods=ANY)
def health():
    return _answer("health")


@app.route("/api/admin/", defaults={"rest": ""}, methods=ANY)
@app.route("/api/admin/<path:rest>", methods=ANY)
def admin(rest):
    return _answer("admin")


@app.route("/", defaults={"rest": ""}, methods=ANY)
@app.route("/<path:rest>", methods=ANY)
def none(rest):
    return _answer("none")


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]), threaded=True, use_reloader=False)
