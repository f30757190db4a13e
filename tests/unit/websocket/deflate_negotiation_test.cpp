#include "websocket/deflate_negotiation.hpp"

#include <doctest/doctest.h>

using namespace sluice::websocket;
using sluice::config::websocket_compression;

TEST_CASE("permessage-deflate as the server: the first offer that fits, answered without context takeover") {
  const websocket_compression on;
  std::string response;
  auto p = accept_offer("permessage-deflate; client_max_window_bits", on, response);
  REQUIRE(p);
  CHECK(response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  CHECK(p->deflate_window_bits == 15);
  CHECK(p->inflate_window_bits == 15);

  websocket_compression small;
  small.window_bits = 10;
  p = accept_offer("permessage-deflate; client_max_window_bits", small, response);
  REQUIRE(p);
  CHECK(response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                    "client_max_window_bits=10");
  CHECK(p->deflate_window_bits == 10);
  CHECK(p->inflate_window_bits == 10);

  // Without client_max_window_bits the client may use 15, and sluice must be able to read it.
  p = accept_offer("permessage-deflate", small, response);
  REQUIRE(p);
  CHECK(p->inflate_window_bits == 15);
  CHECK(response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");

  p = accept_offer("permessage-deflate; server_max_window_bits=12; client_max_window_bits=11", on, response);
  REQUIRE(p);
  CHECK(p->deflate_window_bits == 12);
  CHECK(p->inflate_window_bits == 11);
  CHECK(response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
                    "server_max_window_bits=12; client_max_window_bits=11");

  // An offer sluice cannot honour is skipped for the next one; none left: no extension.
  p = accept_offer("permessage-deflate; server_max_window_bits=8, permessage-deflate", on, response);
  REQUIRE(p);
  CHECK(p->deflate_window_bits == 15);
  CHECK(!accept_offer("permessage-deflate; server_max_window_bits=8", on, response));
  CHECK(response.empty());
  CHECK(!accept_offer("permessage-deflate; foo", on, response));
  CHECK(!accept_offer("permessage-deflate; server_max_window_bits", on, response));
  CHECK(!accept_offer("permessage-deflate; server_max_window_bits=16", on, response));
  CHECK(!accept_offer("permessage-deflate; server_no_context_takeover; server_no_context_takeover", on, response));
  CHECK(!accept_offer("x-webkit-deflate-frame", on, response));
  CHECK(accept_offer("x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=\"12\"", on, response));
  CHECK(response.ends_with("client_max_window_bits=12"));

  websocket_compression off;
  off.enabled = false;
  CHECK(!accept_offer("permessage-deflate", off, response));
}

TEST_CASE("permessage-deflate as the client: the offer, and the answers that fail the handshake") {
  websocket_compression on;
  CHECK(make_offer(on) == "permessage-deflate; server_no_context_takeover; "
                          "client_no_context_takeover; client_max_window_bits");
  websocket_compression small;
  small.window_bits = 11;
  CHECK(make_offer(small).ends_with("; server_max_window_bits=11"));

  std::string error;
  auto p = read_answer("permessage-deflate; server_no_context_takeover; client_no_context_takeover", on, error);
  REQUIRE(p);
  CHECK(error.empty());
  CHECK(p->deflate_window_bits == 15);
  CHECK(p->inflate_window_bits == 15);
  p = read_answer("permessage-deflate; server_no_context_takeover; client_max_window_bits=10", on, error);
  REQUIRE(p);
  CHECK(p->deflate_window_bits == 10);
  // Told 8, which zlib cannot compress with: sluice sends uncompressed, still reads compressed.
  p = read_answer("permessage-deflate; server_no_context_takeover; client_max_window_bits=8", on, error);
  REQUIRE(p);
  CHECK(p->deflate_window_bits == 0);
  CHECK(!read_answer("", on, error));
  CHECK(error.empty());

  CHECK(!read_answer("permessage-deflate", on, error));  // server_no_context_takeover was asked for
  CHECK(!error.empty());
  CHECK(!read_answer("permessage-deflate; server_no_context_takeover; server_max_window_bits=12", small, error));
  CHECK(!error.empty());
  CHECK(!read_answer("permessage-deflate; server_no_context_takeover; client_max_window_bits", on, error));
  CHECK(!read_answer("permessage-deflate; server_no_context_takeover; bogus", on, error));
  CHECK(!read_answer("x-other", on, error));
  CHECK(!read_answer("permessage-deflate; server_no_context_takeover, permessage-deflate", on, error));
  websocket_compression off;
  off.enabled = false;
  CHECK(!read_answer("permessage-deflate; server_no_context_takeover", off, error));
  CHECK(!error.empty());
}
