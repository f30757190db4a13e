#include "response_differential.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/dynamic_body.hpp>
#include <boost/beast/http/parser.hpp>

#include "http1/header_arena.hpp"
#include "http1/response_parser.hpp"

namespace sluice::proof {
namespace {

namespace http = boost::beast::http;
using error_code = boost::system::error_code;

constexpr std::size_t header_limit = 64 * 1024;  // ours' default, set on Beast's too
// http_io.cpp's bound on a chunk-size line or trailer section that is not yet whole.
constexpr std::size_t max_framing_bytes = 16 * 1024;

// Hands the input out in the plan's pieces.
class feeder {
 public:
  feeder(std::string_view wire, const feed_plan& plan) : wire_(wire), plan_(plan) {}
  /// Appends the next piece to `pending`; false when the input is all given (the close).
  bool next(std::string& pending) {
    if (fed_ == wire_.size()) return false;
    std::size_t k = wire_.size() - fed_;
    if (!plan_.pieces.empty()) k = std::min(k, std::max<std::size_t>(1, plan_.pieces[turn_++ % plan_.pieces.size()]));
    pending.append(wire_.substr(fed_, k));
    fed_ += k;
    return true;
  }

 private:
  std::string_view wire_;
  const feed_plan& plan_;
  std::size_t fed_ = 0;
  std::size_t turn_ = 0;
};

}  // namespace

parse_outcome parse_ours(std::string_view wire, const feed_plan& plan) {
  parse_outcome out;
  http1::header_arena arena;
  http1::response_parser p(arena);
  p.skip(plan.head);
  feeder feed(wire, plan);
  std::string pending;
  feed.next(pending);
  std::vector<char> window(std::max<std::size_t>(1, plan.window));
  // As http_io.cpp's read_header and read_body_piece drive it.
  for (;;) {
    error_code ec;
    if (!p.is_header_done()) {
      const std::size_t n = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, n);
      out.consumed += n;
      if (ec == http::error::need_more) {
        if (feed.next(pending)) continue;
        p.put_eof(ec);
        out.ec = ec;
        break;
      }
      if (ec) {
        out.ec = ec;
        break;
      }
      continue;
    }
    if (p.is_done()) break;
    p.body().data = window.data();
    p.body().size = window.size();
    const std::size_t n = p.put(boost::asio::buffer(pending), ec);
    pending.erase(0, n);
    out.consumed += n;
    const std::size_t got = window.size() - p.body().size;
    out.body.append(window.data(), got);
    if (ec == http::error::need_buffer) continue;
    if (ec && ec != http::error::need_more) {
      out.ec = ec;
      break;
    }
    if (got > 0 || n > 0 || p.is_done()) continue;
    if (pending.size() >= max_framing_bytes) {
      out.ec = http::error::bad_chunk;
      break;
    }
    if (feed.next(pending)) continue;
    p.put_eof(ec);
    if (ec) {
      out.ec = ec;
      break;
    }
  }
  out.accepted = !out.ec && p.is_done();
  if (!p.is_header_done()) return out;
  out.status = p.result_int();
  out.version = p.version();
  out.keep_alive = p.keep_alive();
  for (const auto& f : p.fields()) out.fields.emplace_back(f.name_string(), f.value());
  return out;
}

parse_outcome parse_beast(std::string_view wire, const feed_plan& plan) {
  parse_outcome out;
  // dynamic_body, not string_body: string_body reserves the whole Content-Length up front, and
  // a fuzzed length of petabytes is then an allocation no allocator gives.
  http::response_parser<http::dynamic_body> p;
  p.header_limit(header_limit);
  p.body_limit(boost::none);
  p.skip(plan.head);
  // Not eager until the head is whole: its fields are taken then, before trailer fields join
  // them (Beast inserts a field after the last one of its name, so they would mix).
  p.eager(false);
  feeder feed(wire, plan);
  std::string pending;
  feed.next(pending);
  bool head_taken = false;
  auto take_head = [&] {
    head_taken = true;
    p.eager(true);
    for (const auto& f : p.get()) out.fields.emplace_back(f.name_string(), f.value());
  };
  for (;;) {
    if (p.is_header_done() && !head_taken) take_head();
    if (p.is_done()) break;
    error_code ec;
    std::size_t n = 0;
    if (!pending.empty()) {
      n = p.put(boost::asio::buffer(pending), ec);
      pending.erase(0, n);
      out.consumed += n;
    }
    if (ec && ec != http::error::need_more) {
      out.ec = ec;
      break;
    }
    if (n > 0 && !ec) continue;
    if (feed.next(pending)) continue;
    // put_eof's precondition is a byte received (http_io.cpp answers end_of_stream itself).
    if (!p.got_some()) {
      out.ec = http::error::end_of_stream;
      break;
    }
    p.put_eof(ec);
    if (ec) {
      out.ec = ec;
      break;
    }
  }
  out.accepted = !out.ec && p.is_done();
  if (!p.is_header_done()) return out;
  if (!head_taken) take_head();
  const auto& m = p.get();
  out.status = m.result_int();
  out.version = m.version();
  out.keep_alive = p.keep_alive();
  out.body = boost::beast::buffers_to_string(m.body().data());
  return out;
}

// ---------------------------------------------------------------------------------------------
// The allowed differences

namespace {

// The head as lines: from the start to the first empty line (or the end), split at CRLF.
std::vector<std::string_view> head_lines(std::string_view wire) {
  std::vector<std::string_view> lines;
  std::size_t at = 0;
  while (at < wire.size()) {
    const auto eol = wire.find("\r\n", at);
    const std::string_view line = wire.substr(at, eol == std::string_view::npos ? eol : eol - at);
    if (line.empty()) break;
    lines.push_back(line);
    if (eol == std::string_view::npos) break;
    at = eol + 2;
  }
  return lines;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return lower(x) == lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The head's field lines named `name` (any case), values trimmed.
std::vector<std::string_view> field_values(const std::vector<std::string_view>& lines,
                                           std::string_view name) {
  std::vector<std::string_view> out;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto colon = lines[i].find(':');
    if (colon != std::string_view::npos && iequals(lines[i].substr(0, colon), name))
      out.push_back(trim(lines[i].substr(colon + 1)));
  }
  return out;
}

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// The elements of a comma-separated list, trimmed (empty ones kept).
std::vector<std::string_view> elements(std::string_view list) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto comma = list.find(',');
    out.push_back(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    list.remove_prefix(comma + 1);
  }
}

// A chunk-size line with an extension (hex digits, then ";") after the head.
bool has_chunk_extension(std::string_view wire) {
  const auto head_end = wire.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return false;
  std::string_view body = wire.substr(head_end + 4);
  for (;;) {
    const auto eol = body.find("\r\n");
    const std::string_view line = body.substr(0, eol);
    const auto digits = line.find_first_not_of("0123456789abcdefABCDEF");
    if (digits > 0 && digits != std::string_view::npos) {
      const auto semi = line.find_first_not_of(" \t", digits);
      if (semi != std::string_view::npos && line[semi] == ';') return true;
    }
    if (eol == std::string_view::npos) return false;
    body.remove_prefix(eol + 2);
  }
}

// Where the trailer section of a chunked body starts (just after the last chunk's line), when
// what follows the head walks as chunks; npos when it does not.
std::size_t trailer_start(std::string_view wire) {
  const auto head_end = wire.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return std::string_view::npos;
  std::size_t at = head_end + 4;
  for (;;) {
    const auto eol = wire.find("\r\n", at);
    if (eol == std::string_view::npos) return std::string_view::npos;
    std::uint64_t size = 0;
    std::size_t i = at;
    for (; i < eol; ++i) {
      const char c = wire[i];
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) break;
      if (size > wire.size()) return std::string_view::npos;
      size = size * 16 + static_cast<unsigned>(v);
    }
    if (i == at) return std::string_view::npos;
    at = eol + 2;
    if (size == 0) return at;
    if (size > wire.size() - at || wire.substr(at + size, 2) != "\r\n") return std::string_view::npos;
    at += size + 2;
  }
}

// Which parser refused; or both accepted and the messages differ; or any of these (a framing
// read two ways shows up as any of them).
enum class side { ours_refuses, beast_refuses, both_accept, any };

struct rule {
  allowed_difference info;
  side when;
  bool (*holds)(std::string_view wire, const parse_outcome& ours, const parse_outcome& beast);
};

using http::error;

// The table. Each row names a disagreement the two parsers may have on purpose and the
// property of the input that explains it; a disagreement no row explains fails the test.
const rule rules[] = {
    {{"obs-fold",
      "a field line folded onto the next (RFC 9112 5.2 lets a proxy refuse it; a folded value "
      "is read two ways downstream): ours refuses with bad_field, Beast unfolds it"},
     side::ours_refuses,
     [](std::string_view wire, const parse_outcome& o, const parse_outcome&) {
       if (o.ec != error::bad_field) return false;
       const auto lines = head_lines(wire);
       return std::any_of(lines.begin() + (lines.empty() ? 0 : 1), lines.end(),
                          [](std::string_view l) { return l.front() == ' ' || l.front() == '\t'; });
     }},
    {{"status below 100",
      "status codes are 100-599 (RFC 9110 15); a status 000-099 has no meaning a proxy could "
      "relay: ours refuses with bad_status, Beast takes any three digits"},
     side::ours_refuses,
     [](std::string_view wire, const parse_outcome& o, const parse_outcome& b) {
       return o.ec == error::bad_status && b.status < 100 && wire.size() > 11 &&
              wire.substr(9, 1) == "0";
     }},
    {{"Content-Length beside Transfer-Encoding",
      "a message framed two ways is the classic smuggling setup (RFC 9112 6.1 lets a proxy "
      "refuse it): ours refuses CL with any Transfer-Encoding, Beast only with chunked"},
     side::ours_refuses,
     [](std::string_view wire, const parse_outcome& o, const parse_outcome&) {
       if (o.ec != error::bad_content_length && o.ec != error::bad_transfer_encoding) return false;
       const auto lines = head_lines(wire);
       return !field_values(lines, "content-length").empty() &&
              !field_values(lines, "transfer-encoding").empty();
     }},
    {{"status line without a reason",
      "\"HTTP/1.1 200\" CRLF, with no space and no reason: common enough from small servers "
      "to accept (RFC 9112 4 asks a recipient to accept an empty reason); Beast wants the space"},
     side::beast_refuses,
     [](std::string_view wire, const parse_outcome&, const parse_outcome& b) {
       return b.ec == error::bad_status && wire.size() >= 14 && wire.substr(12, 2) == "\r\n";
     }},
    {{"Connection that is not a token list",
      "ours reads close and keep-alive out of any Connection value and forwards nothing of it; "
      "Beast refuses a value that is not a token list with bad_value"},
     side::beast_refuses,
     [](std::string_view wire, const parse_outcome&, const parse_outcome& b) {
       if (b.ec != error::bad_value) return false;
       const auto lines = head_lines(wire);
       auto values = field_values(lines, "connection");
       for (const auto v : field_values(lines, "proxy-connection")) values.push_back(v);
       return std::any_of(values.begin(), values.end(), [](std::string_view v) {
         const auto e = elements(v);
         return std::any_of(e.begin(), e.end(), [](std::string_view t) {
           return !std::all_of(t.begin(), t.end(), is_tchar);
         });
       });
     }},
    {{"empty elements in a Content-Length list",
      "RFC 9110 5.6.1 has a recipient ignore empty list elements, so \"5, , 5\" and \"5,\" are "
      "5; Beast refuses them"},
     side::beast_refuses,
     [](std::string_view wire, const parse_outcome&, const parse_outcome& b) {
       if (b.ec != error::bad_content_length) return false;
       for (const auto v : field_values(head_lines(wire), "content-length")) {
         const auto e = elements(v);
         if (std::any_of(e.begin(), e.end(), [](std::string_view t) { return t.empty(); }))
           return true;
       }
       return false;
     }},
    {{"chunk extensions",
      "ours drops chunk extensions unread (the body is re-chunked for the client), refusing only "
      "control characters in them (bad_chunk); Beast parses their grammar, refuses a malformed "
      "one and lets control characters through inside a quoted string"},
     side::any,
     [](std::string_view wire, const parse_outcome& o, const parse_outcome& b) {
       // (An unclosed quoted-string runs on to the end: Beast then says partial_message.)
       if (!has_chunk_extension(wire)) return false;
       return (o.accepted && !b.accepted) || (!o.accepted && o.ec == error::bad_chunk && b.accepted);
     }},
    {{"trailer fields",
      "ours reads trailer fields and drops them, checking only a token name, a colon and no "
      "control characters; Beast adds them to the message and applies the head's rules to "
      "them (a Content-Length or Transfer-Encoding trailer, a Connection that is not a token "
      "list) and unfolds obs-fold there. Allowed when the two agree on the same response with "
      "its trailer section emptied"},
     side::any,
     [](std::string_view wire, const parse_outcome&, const parse_outcome&) {
       const auto at = trailer_start(wire);
       if (at == std::string_view::npos || wire.substr(at, 2) == "\r\n") return false;
       const std::string without = std::string(wire.substr(0, at)) + "\r\n";
       return compare(without, feed_plan{}).agree;
     }},
    {{"HTTP/1.0 with both close and keep-alive",
      "an HTTP/1.0 response whose Connection (or Proxy-Connection) fields name both close and "
      "keep-alive: ours closes the connection, close winning as it does in 1.1; Beast keeps a "
      "1.0 connection open whenever keep-alive is named"},
     side::both_accept,
     [](std::string_view wire, const parse_outcome& o, const parse_outcome& b) {
       if (o.version != 10 || o.keep_alive || !b.keep_alive) return false;
       const auto lines = head_lines(wire);
       auto values = field_values(lines, "connection");
       for (const auto v : field_values(lines, "proxy-connection")) values.push_back(v);
       bool close = false, keep = false;
       for (const auto v : values) {
         for (const auto e : elements(v)) {
           close = close || iequals(e, "close");
           keep = keep || iequals(e, "keep-alive");
         }
       }
       return close && keep;
     }},
    {{"Transfer-Encoding that is not a token list",
      "ours takes each element of the list whole, so \"chunked\" followed by junk is not "
      "chunked and the body runs to the close (RFC 9112 6.3: chunked not last); Beast's list "
      "reader stops at the junk and reads the body as chunked"},
     side::any,
     [](std::string_view wire, const parse_outcome&, const parse_outcome&) {
       for (const auto v : field_values(head_lines(wire), "transfer-encoding")) {
         for (const auto e : elements(v)) {
           const auto coding = trim(e.substr(0, e.find(';')));
           if (!std::all_of(coding.begin(), coding.end(), is_tchar)) return true;
         }
       }
       return false;
     }},
};

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s.substr(0, 200)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(hex[u >> 4]);
      out.push_back(hex[u & 15]);
    }
  }
  if (s.size() > 200) out += "...";
  return out + "\"";
}

std::string describe(const parse_outcome& p) {
  std::string s = p.accepted ? "accepted" : "refused (" + p.ec.message() + ")";
  if (p.accepted) {
    s += " status " + std::to_string(p.status) + ", version " + std::to_string(p.version) +
         ", keep_alive " + (p.keep_alive ? "1" : "0") + ", " + std::to_string(p.fields.size()) +
         " fields, body " + quoted(p.body) + ", message of " + std::to_string(p.consumed) + " bytes";
  }
  return s;
}

// What differs between two accepted messages (empty when nothing).
std::string message_difference(const parse_outcome& a, const parse_outcome& b) {
  if (a.status != b.status) return "status";
  if (a.version != b.version) return "version";
  if (a.keep_alive != b.keep_alive) return "keep_alive";
  if (a.consumed != b.consumed) return "where the message ends";
  if (a.body != b.body) return "body";
  if (a.fields.size() != b.fields.size()) return "number of fields";
  // Beast's fields keep a repeated name next to its first (a field is inserted after the last
  // of its name), ours keep the order received: compared by name, then in order of arrival.
  auto by_name = [](std::vector<std::pair<std::string, std::string>> f) {
    std::stable_sort(f.begin(), f.end(), [](const auto& x, const auto& y) {
      return std::lexicographical_compare(
          x.first.begin(), x.first.end(), y.first.begin(), y.first.end(),
          [](char c, char d) { return lower(c) < lower(d); });
    });
    return f;
  };
  const auto fa = by_name(a.fields), fb = by_name(b.fields);
  for (std::size_t i = 0; i < fa.size(); ++i) {
    if (fa[i].first != fb[i].first)
      return "field names (" + quoted(fa[i].first) + " vs " + quoted(fb[i].first) + ")";
    if (fa[i].second != fb[i].second)
      return "value of " + quoted(fa[i].first) + " (" + quoted(fa[i].second) + " vs " +
             quoted(fb[i].second) + ")";
  }
  return {};
}

constexpr std::array<allowed_difference, std::size(rules)> make_infos() {
  std::array<allowed_difference, std::size(rules)> out{};
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = rules[i].info;
  return out;
}

}  // namespace

std::span<const allowed_difference> allowed_differences() {
  static const auto infos = make_infos();
  return infos;
}

differential_result compare(std::string_view wire, const feed_plan& plan) {
  differential_result r;
  const parse_outcome ours = parse_ours(wire, plan);
  const parse_outcome beast = parse_beast(wire, plan);
  side when;
  if (ours.accepted && beast.accepted) {
    r.detail = message_difference(ours, beast);
    if (r.detail.empty()) return r;
    when = side::both_accept;
  } else if (ours.accepted == beast.accepted) {
    return r;  // both refuse: the reasons may differ
  } else {
    when = ours.accepted ? side::beast_refuses : side::ours_refuses;
    r.detail = ours.accepted ? "Beast refuses" : "ours refuses";
  }
  r.agree = false;
  r.detail += ": ours " + describe(ours) + "; Beast " + describe(beast) + "; input " + quoted(wire);
  const auto infos = allowed_differences();
  for (std::size_t i = 0; i < std::size(rules); ++i) {
    if ((rules[i].when == when || rules[i].when == side::any) && rules[i].holds(wire, ours, beast)) {
      r.allowed = &infos[i];
      break;
    }
  }
  return r;
}

feed_plan plan_from(std::string_view wire, bool head) {
  // FNV-1a, then xorshift: the pieces change with every byte of the input.
  std::uint64_t h = 1469598103934665603ull;
  for (const char c : wire) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  auto next = [&h] {
    h ^= h << 13;
    h ^= h >> 7;
    h ^= h << 17;
    return h;
  };
  feed_plan plan;
  plan.head = head;
  const std::size_t count = 1 + next() % 8;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint64_t r = next();
    // Mostly small pieces (the edges are where parsers go wrong), now and then a large one.
    plan.pieces.push_back(r % 4 == 0 ? 1 + r % 512 : 1 + r % 9);
  }
  plan.window = 1 + next() % 16;
  return plan;
}

}  // namespace sluice::proof
