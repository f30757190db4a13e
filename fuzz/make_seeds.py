#!/usr/bin/env python3
"""Writes the seed corpus of each fuzz target into fuzz/corpus/<target>/ from the unit tests'
cases: the config fixtures (tests/fixtures/config) as they are, targets and requests after the
cases of tests/unit/routing/request_target_test.cpp and admission_test.cpp, the responses of
tests/unit/http1/response_parser_test.cpp, and WebSocket frames of each kind the relay meets.

Run it again after changing a case here; the files are committed, so `make fuzz` and the unit
test that runs the response differential over the corpus need nothing but the repository.
Each file is named for what it holds.
"""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"
FIXTURES = ROOT.parent / "tests" / "fixtures" / "config"


def write(target: str, name: str, data: bytes) -> None:
    path = CORPUS / target / name
    path.write_bytes(data)


def reset(target: str) -> None:
    shutil.rmtree(CORPUS / target, ignore_errors=True)
    (CORPUS / target).mkdir(parents=True)


# --------------------------------------------------------------------------------------------
# config_loader: the fixtures, one per failure mode, and the good ones.

def config_seeds() -> None:
    reset("config_loader")
    for f in sorted(FIXTURES.glob("*.yaml")):
        write("config_loader", f.name, f.read_bytes())


# --------------------------------------------------------------------------------------------
# request_target: "METHOD\nTARGET\nfield lines" (see fuzz/request_target_fuzz.cpp).

TARGETS = {
    "plain": "/api/system/stats?x=1",
    "root": "/",
    "asterisk": "*",
    "absolute_form": "http://example.com/api/system/stats?q",
    "absolute_form_no_path": "http://example.com?x",
    "dot_segments": "/api/./system/../system/stats",
    "dot_above_root": "/../../etc/passwd",
    "encoded_dots": "/api/%2e%2E/system/stats",
    "double_slash": "//api///system//stats//",
    "escaped_slash": "/api%2Fsystem/stats",
    "escaped_backslash": "/api%5csystem",
    "backslash": "/api\\system\\stats",
    "double_encoding": "/api/%252e%252e/stats",
    "malformed_escape": "/api/%zz",
    "truncated_escape": "/api/%4",
    "lower_escape": "/a%7e%2a%c3%a9",
    "utf8": "/caf\xc3\xa9/\xe2\x82\xac",
    "overlong_slash": "/a%c0%afb",
    "surrogate": "/%ed%a0%80",
    "params": "/api/system/stats;jsessionid=1",
    "dot_params": "/api/..;/admin",
    "empty_params_segment": "/a/;x/b",
    "fragment": "/a#b",
    "space": "/a b",
    "control_escape": "/a%00b",
    "query_control": "/a?b\x01",
    "glob_route": "/api/projects/7/files/a/b.txt",
    "glob_encoded": "/api/projects/%37/files/x%2Fy",
    "trailing_slash": "/api/system/stats/",
    "upper_case": "/API/System/Stats",
    "not_origin": "api/system/stats",
    "userinfo": "http://user@example.com/a",
    "ftp_scheme": "ftp://example.com/a",
}


def target_seeds() -> None:
    reset("request_target")
    for name, target in TARGETS.items():
        host = "example.com"
        write("request_target", name, f"GET\n{target}\nHost: {host}\n".encode("latin-1"))
    extra = {
        "head_method": "HEAD\n/api/system/stats\nHost: example.com\n",
        "lower_method": "get\n/api/system/stats\nHost: example.com\n",
        "options_asterisk": "OPTIONS\n*\nHost: example.com\n",
        "http10_no_host": "GET HTTP/1.0\n/api/system/stats\n",
        "no_host": "GET\n/api/system/stats\n",
        "two_hosts": "GET\n/\nHost: a\nHost: b\n",
        "bad_host": "GET\n/\nHost: a b\n",
        "ipv6_host": "GET\n/\nHost: [::1]:8080\n",
        "host_mismatch": "GET\nhttp://other.example/a\nHost: example.com\n",
        "connection_host": "GET\n/\nHost: a\nConnection: close, Host\n",
        "method_override": "POST\n/api/system/stats\nHost: a\nX-HTTP-Method-Override: get\n",
        "register_post": "POST\n/api/auth/register\nHost: a\n",
        "api_key": "GET\n/api/projects/1/files/x\nHost: a\nX-Api-Key: k1\n",
        "api_key_twice": "GET\n/api/projects/1/files/x\nHost: a\nX-Api-Key: k1\nX-Api-Key: k2\n",
        "trusted_xff": "GET\n/api/system/stats\nHost: a\nX-Fuzz-Peer: 10.1.2.3\n"
                       "X-Forwarded-For: 203.0.113.9, 10.0.0.1\n",
        "trusted_forwarded": "GET\n/\nHost: a\nX-Fuzz-Peer: 10.1.2.3\nForwarded: for=\"[2001:db8::1]\"\n",
        "allowlisted": "GET\n/api/system/stats\nHost: a\nX-Fuzz-Peer: 192.0.2.5\n",
        "ipv6_peer": "GET\n/api/system/stats\nHost: a\nX-Fuzz-Peer: 2001:db8::7\n",
        "exempt_health": "GET\n/health/\nHost: a\n",
        "loose_glob_params": "GET\n/q/x;y/z\nHost: a\n",
    }
    for name, text in extra.items():
        write("request_target", name, text.encode("latin-1"))


# --------------------------------------------------------------------------------------------
# response_parser (also response_differential's seeds and the differential unit test's input).

H = "HTTP/1.1 200 OK\r\n"
RESPONSES = {
    "content_length": "HTTP/1.1 200 OK\r\nServer: up\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n"
                      "X-Request-Id: abc\r\nConnection: keep-alive\r\n\r\nhello world",
    "next_response_behind": H + "Content-Length: 3\r\n\r\nabcHTTP/1.1 204 No Content\r\n\r\n",
    "names_any_case": "HTTP/1.1 204 No Content\r\ncOnNeCtIoN:  Close \t\r\nTE: trailers\r\nTRAILER: x\r\n"
                      "upgrade: h2c\r\nKeep-Alive: timeout=5\r\nproxy-connection: keep-alive\r\n"
                      "Proxy-Authenticate: Basic\r\nx-request-ID: 1\r\nEmpty:\r\n\r\n",
    "http10_keep_alive": "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n",
    "http10_close_delimited": "HTTP/1.0 200 OK\r\n\r\nuntil the close",
    "connection_list_close": H + "Content-Length: 0\r\nConnection: upgrade, close\r\n\r\n",
    "chunked": H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=\"v\"\r\n \r\n"
               "00006 ; a=b\r\nworld!\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\nOther: u\r\n\r\n",
    "chunked_final_coding": H + "Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n"
                            "3\r\nabc\r\n0\r\n\r\n",
    "chunked_then_gzip": H + "Transfer-Encoding: chunked, gzip\r\n\r\nraw bytes",
    "close_delimited": H + "Content-Type: a\r\n\r\nuntil the end",
    "status_100": "HTTP/1.1 100 Continue\r\nContent-Length: 8\r\n\r\nSMUGGLED",
    "status_103": "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n",
    "status_204_with_length": "HTTP/1.1 204 No Content\r\nContent-Length: 8\r\n\r\nSMUGGLED",
    "status_304": "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\n",
    "repeated_length": H + "Content-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
    "empty_reason": "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
    "no_reason": "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
    "bad_version_2": "HTTP/2.0 200 OK\r\n\r\n",
    "bad_version_12": "HTTP/1.2 200 OK\r\n\r\n",
    "bad_status_space": "HTTP/1.1  200 OK\r\n\r\n",
    "bad_status_099": "HTTP/1.1 099 Low\r\n\r\n",
    "bad_status_4_digits": "HTTP/1.1 2000 OK\r\n\r\n",
    "bad_reason_control": "HTTP/1.1 200 O\x01K\r\n\r\n",
    "bad_name_space": H + "Bad Name: x\r\n\r\n",
    "space_before_colon": H + "Name : x\r\n\r\n",
    "no_colon": H + "NoColon\r\n\r\n",
    "obs_fold": H + "A: b\r\n folded\r\nContent-Length: 0\r\n\r\n",
    "bare_lf": H + "A: b\nInjected: yes\r\n\r\n",
    "bare_cr": H + "A: b\rInjected: yes\r\n\r\n",
    "del_in_value": H + "A: b\x7f\r\n\r\n",
    "differing_lengths": H + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
    "length_list_differs": H + "Content-Length: 1, 2\r\n\r\n",
    "negative_length": H + "Content-Length: -1\r\n\r\n",
    "length_overflow": H + "Content-Length: 99999999999999999999999\r\n\r\n",
    "length_and_chunked": H + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    "chunked_and_length": H + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
    "chunked_twice": H + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad_chunk_size": H + "Transfer-Encoding: chunked\r\n\r\nz\r\n",
    "chunk_without_crlf": H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
    "chunk_junk_after_size": H + "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n",
    "chunk_size_overflow": H + "Transfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
    "bad_trailer": H + "Transfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
    "cut_in_head": H + "Content-Le",
    "cut_in_body": H + "Content-Length: 5\r\n\r\nabc",
    "cut_in_chunk": H + "Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
    "cut_after_last_chunk": H + "Transfer-Encoding: chunked\r\n\r\n0\r\n",
    "short_status_line": "HTTP/1.1 20\r\n\r\n",
    "created_location": "HTTP/1.1 201 Created\r\nLocation: /x/1\r\nContent-Length: 0\r\n\r\n",
    "obs_text_value": H + "X-Name: caf\xe9\r\nContent-Length: 2\r\n\r\nok",
    "switching_protocols": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
}


def response_seeds() -> None:
    reset("response_parser")
    for name, text in RESPONSES.items():
        write("response_parser", name, text.encode("latin-1"))


# --------------------------------------------------------------------------------------------
# websocket_frames: client frames after the upgrade (masked, as a client must send them).

MASK = b"\x37\xfa\x21\x3d"


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bytes | None = MASK,
          rsv: int = 0) -> bytes:
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask is not None else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack("!H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack("!Q", n)
    if mask is None:
        return head + payload
    masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
    return head + mask + masked


def close(code: int | None, reason: bytes = b"") -> bytes:
    return frame(8, b"" if code is None else struct.pack("!H", code) + reason)


def websocket_seeds() -> None:
    reset("websocket_frames")
    seeds = {
        "text_then_close": frame(1, b"hello") + close(1000, b"bye"),
        "binary": frame(2, bytes(range(40))) + close(1000),
        "fragmented_text": frame(1, b"hel", fin=False) + frame(0, b"lo", fin=False) +
                           frame(0, b" world") + close(1000),
        "ping_between_fragments": frame(1, b"ab", fin=False) + frame(9, b"are you there") +
                                  frame(0, b"cd") + close(1001),
        "ping_pong": frame(9, b"p1") + frame(10, b"unasked pong") + frame(9, b"p2") + close(1000),
        "ping_max_payload": frame(9, b"x" * 125) + close(1000),
        "close_without_code": close(None),
        "close_4000": close(4000, b"app closed"),
        "close_1005_invalid": close(1005),
        "close_999_invalid": close(999),
        "close_one_byte": frame(8, b"\x03"),
        "close_bad_utf8_reason": close(1000, b"\xc0\xaf"),
        "message_over_max": frame(2, b"m" * 1100) + close(1000),
        "fragments_over_max": frame(2, b"a" * 600, fin=False) + frame(0, b"b" * 600) + close(1000),
        "long_length_16": frame(1, b"t" * 300) + close(1000),
        "long_length_64": bytes([0x82, 0xff]) + struct.pack("!Q", 70000) + MASK + b"abc",
        "invalid_utf8_text": frame(1, b"\xff\xfe") + close(1000),
        "utf8_split_across_frames": frame(1, "é".encode()[:1], fin=False) +
                                    frame(0, "é".encode()[1:]) + close(1000),
        "unmasked": frame(1, b"hello", mask=None),
        "reserved_bits": frame(1, b"x", rsv=4) + close(1000),
        "unknown_opcode": frame(3, b"x") + close(1000),
        "fragmented_control": frame(9, b"x", fin=False) + close(1000),
        "continuation_first": frame(0, b"x") + close(1000),
        "text_inside_text": frame(1, b"a", fin=False) + frame(1, b"b") + close(1000),
        "eof_mid_frame": frame(1, b"hello world")[:7],
        "eof_without_close": frame(1, b"gone"),
        "empty_messages": frame(1, b"") + frame(2, b"") + close(1000),
        "many_small": b"".join(frame(1, str(i).encode()) for i in range(20)) + close(1000),
        "data_after_close": close(1000) + frame(1, b"after"),
    }
    for name, data in seeds.items():
        write("websocket_frames", name, data)


def main() -> None:
    config_seeds()
    target_seeds()
    response_seeds()
    websocket_seeds()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(os.listdir(d))} files")


if __name__ == "__main__":
    main()
