#include "http1/response_parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

#include <boost/beast/http/error.hpp>

namespace sluice::http1 {
namespace {

using error = boost::beast::http::error;
using field = boost::beast::http::field;

constexpr std::size_t max_trailer_bytes = 16 * 1024;

// tchar (RFC 9110 5.6.2): the characters of a field name or token.
constexpr std::array<bool, 256> make_tchar_table() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}
constexpr auto tchar = make_tchar_table();

bool is_tchar(char c) { return tchar[static_cast<unsigned char>(c)]; }
bool is_ows(char c) { return c == ' ' || c == '\t'; }

// The first control character (below 0x20, or DEL) in [p, end), or end. Eight bytes at a
// time: a word with none is skipped with a few arithmetic operations (the classic "has a byte
// less than n" test, exact for n <= 128, and "has a zero byte" on the word xor DEL); a word
// with one is then looked at byte by byte. Bytes of 0x80 and above (obs-text) pass.
const char* find_control(const char* p, const char* end) {
  constexpr std::uint64_t ones = 0x0101010101010101ull;
  constexpr std::uint64_t high = 0x8080808080808080ull;
  while (end - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t below_space = (x - ones * 0x20) & ~x & high;
    const std::uint64_t y = x ^ (ones * 0x7f);
    const std::uint64_t del = (y - ones) & ~y & high;
    if ((below_space | del) != 0) break;
    p += 8;
  }
  for (; p < end; ++p) {
    const auto u = static_cast<unsigned char>(*p);
    if (u < 0x20 || u == 0x7f) return p;
  }
  return end;
}

// field-vchar / SP / HTAB, obs-text included: anything but the other controls and DEL.
bool all_value_chars(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
  for (;;) {
    p = find_control(p, end);
    if (p == end) return true;
    if (*p++ != '\t') return false;
  }
}

// The end of a value or reason that starts at p: its CR, with HTAB allowed on the way. Null
// when the line has not all arrived; sets `bad` for any other control character or a CR not
// followed by LF (a bare CR or LF would let the upstream start a line of its own).
const char* find_line_end(const char* p, const char* end, bool& bad) {
  for (;;) {
    const char* c = find_control(p, end);
    if (c == end) return nullptr;
    if (*c == '\t') {
      p = c + 1;
      continue;
    }
    if (*c != '\r') {
      bad = true;
      return nullptr;
    }
    if (c + 1 == end) return nullptr;
    if (c[1] != '\n') {
      bad = true;
      return nullptr;
    }
    return c;
  }
}

// `s` (tchars, or a field value: no control characters) equals `lower` (lower case letters,
// digits and '-'). Setting bit 0x20 lowers a letter and leaves '-' and the digits as they are;
// no other such character lands on a letter, a digit or '-' (only CR would land on '-').
bool name_is(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) | 0x20) != static_cast<unsigned char>(lower[i]))
      return false;
  return true;
}

// The names sluice acts on, classed by length first: most fields are none of them and are
// ruled out by a switch and at most two compares.
void classify(response_field& f) {
  const std::string_view n = f.name_view;
  switch (n.size()) {
    case 2:
      if (name_is(n, "te")) f.id = field::te;
      break;
    case 7:
      if (name_is(n, "trailer")) f.id = field::trailer;
      else if (name_is(n, "upgrade")) f.id = field::upgrade;
      break;
    case 10:
      if (name_is(n, "connection")) f.id = field::connection;
      else if (name_is(n, "keep-alive")) f.id = field::keep_alive;
      break;
    case 12:
      f.is_request_id = name_is(n, "x-request-id");
      break;
    case 14:
      if (name_is(n, "content-length")) f.id = field::content_length;
      break;
    case 16:
      if (name_is(n, "proxy-connection")) f.id = field::proxy_connection;
      break;
    case 17:
      if (name_is(n, "transfer-encoding")) f.id = field::transfer_encoding;
      break;
    case 18:
      if (name_is(n, "proxy-authenticate")) f.id = field::proxy_authenticate;
      break;
    case 19:
      if (name_is(n, "proxy-authorization")) f.id = field::proxy_authorization;
      break;
    default:
      break;
  }
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty element of a comma-separated list (RFC 9110 5.6.1),
// trimmed of whitespace.
template <class Fn>
void for_each_element(std::string_view list, Fn&& fn) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view element = trim_ows(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

// 1*DIGIT without overflow.
bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
    if (v > (UINT64_MAX - 9) / 10) return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

// The end of the next line in [p, end): the CR of its CRLF, or null when no CRLF is there yet.
const char* find_crlf(const char* p, const char* end) {
  while (p < end) {
    const auto* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<std::size_t>(end - p)));
    if (cr == nullptr || cr + 1 >= end) return nullptr;
    if (cr[1] == '\n') return cr;
    p = cr + 1;  // a bare CR: the line's own check refuses it
  }
  return nullptr;
}

}  // namespace

bool response_parser::keep_alive() const {
  if (need_eof_) return false;
  if (version_ >= 11) return !close_;
  return keep_alive_ && !close_;
}

std::size_t response_parser::put(boost::asio::const_buffer in, error_code& ec) {
  ec = {};
  const auto* p = static_cast<const char*>(in.data());
  const std::size_t n = in.size();
  if (n > 0) got_some_ = true;
  if (state_ == state::head) return put_head(p, n, ec);
  return put_body(p, n, ec);
}

std::size_t response_parser::put_head(const char* p, std::size_t n, error_code& ec) {
  // The usual case: the whole head came in one read, and one pass parses it. When it did not,
  // later calls only search the new bytes for the empty line that ends the head and parse once
  // that is here, which bounds the work per byte however slowly the head trickles in.
  std::size_t size = 0;
  if (scanned_ == 0) {
    size = parse_head(p, n, ec);
    if (ec) return 0;
  }
  if (size == 0) {
    const char* q = p + (scanned_ > 3 ? scanned_ - 3 : 0);
    // Compared as a length: an empty buffer may have a null data pointer, and null + 4 is UB.
    while (p + n - q >= 4) {
      const auto* cr = static_cast<const char*>(std::memchr(q, '\r', static_cast<std::size_t>(p + n - q)));
      if (cr == nullptr || cr + 4 > p + n) break;
      if (cr[1] == '\n' && cr[2] == '\r' && cr[3] == '\n') {
        size = parse_head(p, static_cast<std::size_t>(cr + 4 - p), ec);
        // The whole head is here, so a parse that still wants more found no sane end in it.
        if (size == 0 && !ec) ec = status_ == 0 ? error::bad_version : error::bad_field;
        if (ec) return 0;
        break;
      }
      q = cr + 1;
    }
  }
  if (size == 0) {
    scanned_ = n;
    ec = n > header_limit_ ? error::header_limit : error::need_more;
    return 0;
  }
  if (size > header_limit_) {
    ec = error::header_limit;
    return 0;
  }
  // One copy into the arena, then every view is moved onto it: the caller's buffer is consumed
  // and may be reused or moved.
  auto* copy = static_cast<char*>(arena_.allocate(size, 1));
  std::memcpy(copy, p, size);
  auto rebase = [p, copy](std::string_view v) {
    return v.empty() ? v : std::string_view(copy + (v.data() - p), v.size());
  };
  reason_ = rebase(reason_);
  for (auto& f : fields_) {
    f.name_view = rebase(f.name_view);
    f.value_view = rebase(f.value_view);
  }
  finish_head();
  return size;
}

std::size_t response_parser::parse_head(const char* p, std::size_t n, error_code& ec) {
  // A parse may be cut short by the end of the data and tried again: start clean.
  fields_.clear();
  reason_ = {};
  status_ = 0;
  content_length_.reset();
  transfer_encoding_ = chunked_ = close_ = keep_alive_ = false;

  const char* const end = p + n;
  // status-line = HTTP-version SP 3DIGIT [ SP reason-phrase ] CRLF (a bare "200" with no
  // reason is common enough to accept).
  if (n < 14) {  // "HTTP/1.1 200" CRLF
    if (n >= 5 && std::memcmp(p, "HTTP/", 5) != 0) ec = error::bad_version;
    return 0;
  }
  if (std::memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') {
    ec = error::bad_version;
    return 0;
  }
  version_ = p[7] == '1' ? 11 : 10;
  unsigned code = 0;
  for (int i = 9; i < 12; ++i) {
    if (p[i] < '0' || p[i] > '9') {
      ec = error::bad_status;
      return 0;
    }
    code = code * 10 + static_cast<unsigned>(p[i] - '0');
  }
  if (code < 100) {
    ec = error::bad_status;
    return 0;
  }
  status_ = code;
  const char* q = p + 12;
  if (*q == ' ') {
    bool bad = false;
    const char* eol = find_line_end(q + 1, end, bad);
    if (bad) {
      ec = error::bad_reason;
      return 0;
    }
    if (eol == nullptr) return 0;
    reason_ = std::string_view(q + 1, static_cast<std::size_t>(eol - q - 1));
    q = eol + 2;
  } else if (q[0] == '\r' && q[1] == '\n') {
    q += 2;
  } else {
    ec = error::bad_reason;
    return 0;
  }

  // field-line = field-name ":" OWS field-value OWS CRLF; the head ends at an empty line.
  for (;;) {
    if (end - q < 2) return 0;
    if (q[0] == '\r') {
      if (q[1] != '\n') {
        ec = error::bad_field;
        return 0;
      }
      return static_cast<std::size_t>(q + 2 - p);
    }
    const char* name = q;
    while (q < end && is_tchar(*q)) ++q;
    if (q == end) return 0;
    // A line that opens with whitespace is obs-fold; whitespace before the colon is refused
    // by RFC 9112 5.1 (smuggling).
    if (q == name || *q != ':') {
      ec = error::bad_field;
      return 0;
    }
    const std::string_view name_view(name, static_cast<std::size_t>(q - name));
    ++q;
    while (q < end && is_ows(*q)) ++q;
    bool bad = false;
    const char* eol = find_line_end(q, end, bad);
    if (bad) {
      ec = error::bad_value;
      return 0;
    }
    if (eol == nullptr) return 0;
    const char* value_end = eol;
    while (value_end > q && is_ows(value_end[-1])) --value_end;
    response_field& f = fields_.emplace_back();
    f.name_view = name_view;
    f.value_view = std::string_view(q, static_cast<std::size_t>(value_end - q));
    classify(f);
    if (f.id != field::unknown) {
      on_field(f, ec);
      if (ec) return 0;
    }
    q = eol + 2;
  }
}

void response_parser::on_field(response_field& f, error_code& ec) {
  switch (f.id) {
    case field::connection:
    case field::proxy_connection:
      // The two usual values first, without walking a list. (Values hold no control
      // characters, so setting bit 0x20 matches only the letters' two cases and '-'.)
      if (name_is(f.value_view, "keep-alive")) {
        keep_alive_ = true;
        break;
      }
      if (name_is(f.value_view, "close")) {
        close_ = true;
        break;
      }
      for_each_element(f.value_view, [this](std::string_view t) {
        if (name_is(t, "close")) close_ = true;
        else if (name_is(t, "keep-alive")) keep_alive_ = true;
      });
      break;
    case field::content_length: {
      // A list of one value repeated is that value; differing values, or a length beside a
      // Transfer-Encoding, frame the body two ways: the classic response-splitting setup.
      if (transfer_encoding_) {
        ec = error::bad_content_length;
        return;
      }
      // The usual value, one number, without walking a list.
      if (std::uint64_t v = 0; !content_length_ && parse_decimal(f.value_view, v)) {
        content_length_ = v;
        break;
      }
      bool ok = true;
      bool any = false;
      for_each_element(f.value_view, [&](std::string_view t) {
        std::uint64_t v = 0;
        any = true;
        if (!parse_decimal(t, v) || (content_length_ && *content_length_ != v)) ok = false;
        else content_length_ = v;
      });
      if (!ok || !any) {
        ec = error::bad_content_length;
        return;
      }
      // "5, , 5" has empty elements; a value with anything else between commas fails above.
      break;
    }
    case field::transfer_encoding: {
      // A coding after chunked, or chunked twice, is refused, as is a length beside it.
      if (chunked_ || content_length_) {
        ec = error::bad_transfer_encoding;
        return;
      }
      transfer_encoding_ = true;
      // Chunked only when it is the final coding (parameters after ';' do not count; the list
      // may span several lines); a body with any other final coding runs to the close.
      std::string_view final_coding;
      for_each_element(f.value_view, [&](std::string_view t) { final_coding = t; });
      final_coding = trim_ows(final_coding.substr(0, final_coding.find(';')));
      chunked_ = name_is(final_coding, "chunked");
      break;
    }
    default:
      break;
  }
}

void response_parser::finish_head() {
  // RFC 9112 6.3: no body for HEAD, 1xx, 204 and 304, whatever the fields say.
  if (skip_body_ || status_ / 100 == 1 || status_ == 204 || status_ == 304) {
    state_ = state::done;
  } else if (chunked_) {
    state_ = state::chunk_size;
  } else if (content_length_ && !transfer_encoding_) {
    remaining_ = *content_length_;
    state_ = remaining_ > 0 ? state::body_length : state::done;
  } else {
    // No length, or a coding other than chunked last: the body runs to the close.
    state_ = state::body_eof;
    need_eof_ = true;
  }
}

std::size_t response_parser::copy_body(const char* p, std::size_t n) {
  const std::size_t k = std::min(n, body_.size);
  if (k > 0) {
    std::memcpy(body_.data, p, k);
    body_.data = static_cast<char*>(body_.data) + k;
    body_.size -= k;
  }
  return k;
}

std::size_t response_parser::put_body(const char* p, std::size_t n, error_code& ec) {
  std::size_t i = 0;
  for (;;) {
    switch (state_) {
      case state::done:
        return i;
      case state::body_length:
      case state::chunk_data:
      case state::body_eof: {
        if (i == n) {
          ec = error::need_more;
          return i;
        }
        if (body_.data == nullptr || body_.size == 0) {
          ec = error::need_buffer;
          return i;
        }
        std::size_t avail = n - i;
        if (state_ != state::body_eof) avail = static_cast<std::size_t>(std::min<std::uint64_t>(avail, remaining_));
        const std::size_t k = copy_body(p + i, avail);
        i += k;
        if (state_ == state::body_eof) break;
        remaining_ -= k;
        if (remaining_ == 0) state_ = state_ == state::body_length ? state::done : state::chunk_data_end;
        break;
      }
      case state::chunk_data_end:
        if (n - i < 2) {
          ec = error::need_more;
          return i;
        }
        if (p[i] != '\r' || p[i + 1] != '\n') {
          ec = error::bad_chunk;
          return i;
        }
        i += 2;
        state_ = state::chunk_size;
        break;
      case state::chunk_size: {
        // chunk-size [ chunk-ext ] CRLF; the caller bounds how long a line may grow.
        const char* eol = find_crlf(p + i, p + n);
        if (eol == nullptr) {
          ec = error::need_more;
          return i;
        }
        const std::string_view line(p + i, static_cast<std::size_t>(eol - (p + i)));
        std::uint64_t size = 0;
        std::size_t d = 0;
        for (; d < line.size(); ++d) {
          const char c = line[d];
          unsigned v;
          if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0');
          else if (c >= 'a' && c <= 'f') v = static_cast<unsigned>(c - 'a' + 10);
          else if (c >= 'A' && c <= 'F') v = static_cast<unsigned>(c - 'A' + 10);
          else break;
          if (size > (UINT64_MAX >> 4)) {
            ec = error::bad_chunk;
            return i;
          }
          size = (size << 4) | v;
        }
        // Extensions (";name[=value]") are skipped: the body is re-chunked for the client.
        const std::string_view rest = line.substr(d);
        const std::size_t semi = rest.find_first_not_of(" \t");
        const bool rest_ok = semi == std::string_view::npos ||
                             (rest[semi] == ';' && all_value_chars(rest.substr(semi)));
        if (d == 0 || !rest_ok) {
          ec = error::bad_chunk;
          return i;
        }
        i += line.size() + 2;
        if (size == 0) {
          state_ = state::trailer;
        } else {
          remaining_ = size;
          state_ = state::chunk_data;
        }
        break;
      }
      case state::trailer: {
        // Trailer fields are read and dropped; the empty line ends the message.
        const char* eol = find_crlf(p + i, p + n);
        if (eol == nullptr) {
          ec = error::need_more;
          return i;
        }
        const std::string_view line(p + i, static_cast<std::size_t>(eol - (p + i)));
        // The section is bounded as a whole, not only line by line: an upstream could otherwise
        // keep a response open for ever with trailer lines.
        trailer_bytes_ += line.size() + 2;
        if (trailer_bytes_ > max_trailer_bytes) {
          ec = error::header_limit;
          return i;
        }
        if (!line.empty()) {
          const std::size_t colon = line.find(':');
          if (colon == 0 || colon == std::string_view::npos ||
              !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), is_tchar) ||
              !all_value_chars(line.substr(colon + 1))) {
            ec = error::bad_field;
            return i;
          }
        }
        i += line.size() + 2;
        if (line.empty()) state_ = state::done;
        break;
      }
      case state::head:
        return i;  // not reached: put() routes the head elsewhere
    }
  }
}

void response_parser::put_eof(error_code& ec) {
  ec = {};
  if (state_ == state::head) {
    ec = got_some_ ? error::partial_message : error::end_of_stream;
  } else if (state_ == state::body_eof) {
    state_ = state::done;
  } else if (state_ != state::done) {
    ec = error::partial_message;
  }
}

}  // namespace sluice::http1
