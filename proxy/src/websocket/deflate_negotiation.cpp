#include "websocket/deflate_negotiation.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace sluice::websocket {
namespace {

// zlib cannot compress with an 8-bit window (deflateInit2 turns raw 8 into 9), so 8 is never
// used for sluice's own compressor, though a peer may compress with it.
constexpr int min_deflate_window_bits = 9;
constexpr int max_window_bits = 15;

struct param {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

struct extension {
  std::string_view name;
  std::vector<param> params;
};

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

void skip_space(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
}

std::string_view take_token(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && is_tchar(s[n])) ++n;
  const auto token = s.substr(0, n);
  s.remove_prefix(n);
  return token;
}

// A quoted-string's content without its quotes; the values here are digits, so an escape is
// kept as written (and then fails the number check).
bool take_quoted(std::string_view& s, std::string_view& out) {
  if (s.empty() || s.front() != '"') return false;
  const auto close = s.find('"', 1);
  if (close == std::string_view::npos) return false;
  out = s.substr(1, close - 1);
  s.remove_prefix(close + 1);
  return true;
}

// The field's extensions in order; nullopt when it does not parse.
std::optional<std::vector<extension>> parse_extensions(std::string_view s) {
  std::vector<extension> out;
  for (;;) {
    skip_space(s);
    if (s.empty()) break;
    if (s.front() == ',') {  // empty list elements are allowed (RFC 9110 5.6.1)
      s.remove_prefix(1);
      continue;
    }
    extension ext;
    ext.name = take_token(s);
    if (ext.name.empty()) return std::nullopt;
    for (;;) {
      skip_space(s);
      if (s.empty() || s.front() == ',') break;
      if (s.front() != ';') return std::nullopt;
      s.remove_prefix(1);
      skip_space(s);
      param p;
      p.name = take_token(s);
      if (p.name.empty()) return std::nullopt;
      skip_space(s);
      if (!s.empty() && s.front() == '=') {
        s.remove_prefix(1);
        skip_space(s);
        p.has_value = true;
        if (!take_quoted(s, p.value)) p.value = take_token(s);
        if (p.value.empty()) return std::nullopt;
      }
      ext.params.push_back(p);
    }
    out.push_back(std::move(ext));
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// 8-15 as RFC 7692 7.1.2 writes it (1*DIGIT, no leading zero); 0 when it is not.
int window_bits(std::string_view v) {
  if (v.size() == 1 && v[0] == '8') return 8;
  if (v.size() == 1 && v[0] == '9') return 9;
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + (v[1] - '0');
  return 0;
}

// The parameters of one permessage-deflate offer or answer, each at most once.
struct pmd_params {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<int> server_max_window_bits;  // value given
  bool client_max_window_bits = false;        // present (with or without a value)
  std::optional<int> client_max_window_bits_value;
};

// nullopt: a parameter unknown, repeated or with a bad value. `offer`: client_max_window_bits
// may come without a value (in an answer it needs one).
std::optional<pmd_params> read_params(const extension& ext, bool offer) {
  pmd_params out;
  bool seen_server_bits = false;
  for (const param& p : ext.params) {
    if (iequals(p.name, "server_no_context_takeover")) {
      if (out.server_no_context_takeover || p.has_value) return std::nullopt;
      out.server_no_context_takeover = true;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      if (out.client_no_context_takeover || p.has_value) return std::nullopt;
      out.client_no_context_takeover = true;
    } else if (iequals(p.name, "server_max_window_bits")) {
      if (seen_server_bits || !p.has_value) return std::nullopt;
      seen_server_bits = true;
      const int bits = window_bits(p.value);
      if (bits == 0) return std::nullopt;
      out.server_max_window_bits = bits;
    } else if (iequals(p.name, "client_max_window_bits")) {
      if (out.client_max_window_bits) return std::nullopt;
      out.client_max_window_bits = true;
      if (p.has_value) {
        const int bits = window_bits(p.value);
        if (bits == 0) return std::nullopt;
        out.client_max_window_bits_value = bits;
      } else if (!offer) {
        return std::nullopt;
      }
    } else {
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<deflate_params> accept_offer(std::string_view offers,
                                           const config::websocket_compression& limits,
                                           std::string& response) {
  response.clear();
  if (!limits.enabled || offers.empty()) return std::nullopt;
  const auto list = parse_extensions(offers);
  if (!list) return std::nullopt;  // a field that does not parse: no extension, not a refusal
  const int ours = limits.window_bits;
  for (const extension& ext : *list) {
    if (!iequals(ext.name, "permessage-deflate")) continue;
    const auto p = read_params(ext, true);
    if (!p) continue;  // RFC 7692 5: decline an offer with a parameter we cannot take
    deflate_params out;
    out.deflate_window_bits = std::min(ours, p->server_max_window_bits.value_or(max_window_bits));
    if (out.deflate_window_bits < min_deflate_window_bits) continue;
    // The client's window: bounded by what we answer when it lets us, else up to 15.
    int client_bits = max_window_bits;
    if (p->client_max_window_bits)
      client_bits = std::min(ours, p->client_max_window_bits_value.value_or(max_window_bits));
    // A peer asked for 8 may still compress with 9 (zlib's own limit): inflating with 9 reads both.
    out.inflate_window_bits = std::max(client_bits, min_deflate_window_bits);
    // Both no_context_takeover parameters may be answered unasked (RFC 7692 7.1.1).
    response = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
    if (p->server_max_window_bits)
      response += "; server_max_window_bits=" + std::to_string(out.deflate_window_bits);
    if (p->client_max_window_bits && client_bits < max_window_bits)
      response += "; client_max_window_bits=" + std::to_string(client_bits);
    return out;
  }
  return std::nullopt;
}

std::string make_offer(const config::websocket_compression& limits) {
  if (!limits.enabled) return {};
  std::string offer =
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
      "client_max_window_bits";
  if (limits.window_bits < max_window_bits)
    offer += "; server_max_window_bits=" + std::to_string(limits.window_bits);
  return offer;
}

std::optional<deflate_params> read_answer(std::string_view answer,
                                          const config::websocket_compression& limits,
                                          std::string& error) {
  error.clear();
  if (answer.empty()) return std::nullopt;
  const auto list = parse_extensions(answer);
  if (!list) {
    error = "Sec-WebSocket-Extensions does not parse";
    return std::nullopt;
  }
  if (list->empty()) return std::nullopt;
  if (!limits.enabled || list->size() != 1 || !iequals(list->front().name, "permessage-deflate")) {
    error = "Sec-WebSocket-Extensions names an extension sluice did not offer";
    return std::nullopt;
  }
  const auto p = read_params(list->front(), false);
  if (!p) {
    error = "permessage-deflate answered with a parameter unknown, repeated or out of range";
    return std::nullopt;
  }
  if (!p->server_no_context_takeover) {
    error = "permessage-deflate answered without the server_no_context_takeover asked for";
    return std::nullopt;
  }
  const int ours = limits.window_bits;
  deflate_params out;
  const int server_bits = p->server_max_window_bits.value_or(max_window_bits);
  if (server_bits > ours) {
    error = "permessage-deflate answered with a server_max_window_bits over the one offered";
    return std::nullopt;
  }
  out.inflate_window_bits = std::max(server_bits, min_deflate_window_bits);
  out.deflate_window_bits = std::min(ours, p->client_max_window_bits_value.value_or(max_window_bits));
  // Told to stay under 2^9, which zlib cannot: send uncompressed (always allowed) instead.
  if (out.deflate_window_bits < min_deflate_window_bits) out.deflate_window_bits = 0;
  return out;
}

}  // namespace sluice::websocket
