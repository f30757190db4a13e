"""The test backend on FastAPI (run by uvicorn): the five handlers every backend here serves.

Each handler counts its runs and answers {"handler": NAME, ...} with the method, the path and the
header fields it received, so a test can see both which code ran and what the proxy forwarded.
GET /__hits (asked of this port directly, never through sluice) returns the counts.

Run: /usr/bin/python3 -m uvicorn --app-dir tests/system/backends fastapi_app:app --port PORT
"""

import threading
from collections import Counter

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
_hits: Counter = Counter()
_lock = threading.Lock()


def _answer(name: str, request: Request) -> JSONResponse:
    with _lock:
        _hits[name] += 1
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    client = request.client.host if request.client else None
    return JSONResponse({"handler": name, "method": request.method, "path": request.url.path,
                         "scheme": request.url.scheme, "client": client, "headers": headers})


@app.get("/__hits")
async def hits() -> JSONResponse:
    with _lock:
        return JSONResponse(dict(_hits))


@app.get("/api/system/stats")
async def stats(request: Request) -> JSONResponse:
    return _answer("stats", request)


@app.post("/api/auth/register")
async def register(request: Request) -> JSONResponse:
    return _answer("register", request)


async def health(request: Request) -> JSONResponse:
    return _answer("health", request)


async def admin(request: Request) -> JSONResponse:
    return _answer("admin", request)


async def none(request: Request) -> JSONResponse:
    return _answer("none", request)


# Every method, as a catch-all must take (Starlette's own default for a function is GET only;
# HEAD comes along with GET).
ANY = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
app.add_route("/health", health, methods=ANY)
app.add_route("/api/admin/{rest:path}", admin, methods=ANY)
app.add_route("/{rest:path}", none, methods=ANY)
