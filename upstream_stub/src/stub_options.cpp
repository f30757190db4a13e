#include "stub_options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

namespace sluice::stub {

namespace {

/// Longest sampling or push interval accepted; anything longer is surely a typo (ms for s).
constexpr double max_interval_s = 3600.0;
/// Upper bound on --threads; far beyond what a test fixture needs.
constexpr unsigned max_threads = 256;

double parse_seconds(const std::string& flag, const std::string& text) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(value) || value < 0 ||
      value > max_interval_s) {
    throw usage_error(flag + ": \"" + text + "\" is not a number of seconds between 0 and 3600");
  }
  return value;
}

void parse_listen(const std::string& text, stub_options& options) {
  // "HOST:PORT" or "[V6]:PORT"; the last colon separates the port.
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw usage_error("--listen: \"" + text + "\" is not ADDR:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc{} || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    throw usage_error("--listen: \"" + port_text + "\" is not a port (0-65535)");
  }
  options.listen_host = host;
  options.listen_port = static_cast<unsigned short>(port);
}

}  // namespace

stub_options stub_options::parse(const std::vector<std::string>& args) {
  stub_options options;
  bool have_listen = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string flag = args[i];
    std::optional<std::string> inline_value;
    if (const auto eq = flag.find('='); flag.starts_with("--") && eq != std::string::npos) {
      inline_value = flag.substr(eq + 1);
      flag.resize(eq);
    }
    const auto value = [&]() -> std::string {
      if (inline_value) {
        return *inline_value;
      }
      if (i + 1 >= args.size()) {
        throw usage_error(flag + " needs a value");
      }
      return args[++i];
    };
    if (flag == "--help" || flag == "-h") {
      options.what = action::help;
      return options;
    }
    if (flag == "--version") {
      options.what = action::version;
      return options;
    }
    if (flag == "--listen") {
      parse_listen(value(), options);
      have_listen = true;
    } else if (flag == "--stats-interval") {
      options.stats_interval = std::chrono::duration<double>(parse_seconds(flag, value()));
    } else if (flag == "--ws-interval") {
      options.ws_interval = std::chrono::duration<double>(parse_seconds(flag, value()));
    } else if (flag == "--ws-deflate") {
      options.ws_deflate = true;
    } else if (flag == "--routing") {
      const std::string text = value();
      if (text == "exact") {
        options.routing = routing_mode::exact;
      } else if (text == "loose") {
        options.routing = routing_mode::loose;
      } else {
        throw usage_error("--routing: \"" + text + "\" is not exact or loose");
      }
    } else if (flag == "--threads") {
      const std::string text = value();
      unsigned threads = 0;
      const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), threads);
      if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size() || threads == 0 ||
          threads > max_threads) {
        throw usage_error("--threads: \"" + text + "\" is not a number between 1 and 256");
      }
      options.threads = threads;
    } else {
      throw usage_error("unknown argument \"" + args[i] + "\"");
    }
  }
  if (!have_listen) {
    throw usage_error("--listen ADDR:PORT is required");
  }
  return options;
}

std::string stub_options::usage() {
  return R"(usage: upstream-stub --listen ADDR:PORT [--stats-interval SECONDS] [--ws-interval SECONDS]
                     [--ws-deflate] [--threads N] [--routing exact|loose]
       upstream-stub --help | --version

The fake backend that sluice protects in tests and `make run`: it plays the seed's Python API.

options:
  --listen ADDR:PORT        address to serve on; port 0 picks a free port. Once bound, one stderr
                            line says "listening on ADDR:PORT" with the real port.
  --stats-interval SECONDS  CPU sampling window of each /api/system/stats request (default 0.1);
                            every request takes this long, like psutil.cpu_percent(interval=...)
  --ws-interval SECONDS     period of the stats messages on the WebSocket endpoints (default 1);
                            0 turns them off, so a WebSocket only echoes
  --ws-deflate              accept permessage-deflate when a WebSocket client offers it (off by
                            default: a plain WebSocket, as the seed's server)
  --threads N               threads running the server (default 1)
  --routing exact|loose     how a request finds its endpoint (default exact: the path as sent,
                            byte for byte, and the method as sent, like the seed's server).
                            loose reads targets the way lenient frameworks do (FastAPI, Flask,
                            nginx, Express, WHATWG URL routers), all at once, so a spelling that
                            one of them would serve reaches the endpoint here too: absolute-form
                            and a bare "http:" reduced to the path; query and fragment dropped;
                            every %XX decoded once (%2F and %5C too); '\' read as '/'; ";params"
                            cut from each segment; "." and ".." resolved after decoding; repeated
                            and trailing slashes dropped; letters compared case-insensitively;
                            the method upper-cased ("post" is POST). Handlers see that path.

endpoints (the seed's API):
  GET  /health                 {"status":"healthy",...}
  GET  /api/system/stats       CPU (sampled per request), memory and disk figures
  GET  /api/system/ports       listening TCP ports from /proc/net/tcp{,6}
  GET  /api/services           the stub's own parts with live counters
  POST /api/auth/register      {"username","password"} -> 201, 400, 409 (users kept in memory)
  POST /api/auth/login         {"username","password"} -> 200 with a token, 400, 401
  POST /api/jobs               {"duration_ms":N,"input":...} optional -> 202 + Location
  GET  /api/jobs/{id}          queued | running | done, with the result when done
  GET  /ws                     WebSocket, public: stats pushed every --ws-interval, echo
  GET  /api/system/ws          the same WebSocket, needing a token from /api/auth/login as
                               "Authorization: Bearer TOKEN" or ?token=TOKEN (else 401, no
                               upgrade)
  GET  /api/system/metrics     the same WebSocket, public

  Each WebSocket pushes the /api/system/stats document as a text message every --ws-interval,
  echoes every message (same type, byte-exact, up to 16 MiB, bigger is closed with 1009; fragments
  are echoed as one message), answers pings, and answers a client's close with the same code (not
  the reason). The text message "close:CODE:REASON" or "close:CODE" (e.g. close:4001:bye; CODE
  1000-1003, 1007-1013 or 3000-4999, REASON at most 123 bytes) makes the stub close with that code
  and reason instead; anything else is echoed. A client that lets more than 4 MiB of answers wait
  unread is closed with 1008. A GET without the upgrade gets 426.

test aids (not in the seed; for sluice's tests):
  GET      /api/headers               the method, target and header fields received, as JSON
  POST|PUT /api/echo                  streams the body back with its Content-Type, any size
  GET      /api/stream?bytes=N&chunk=M  N bytes (<= 1 GiB, byte i = i % 251), chunked by M
                                        (default 16384)
  GET      /api/delay?ms=N            answers after N ms (at most 120000)
  GET      /api/ws/stats              WebSockets open now and since start: {"open":N,"total":M}
  GET      /api/hits                  handler runs of each endpoint since start, by path:
                                      {"routes":{"/api/system/stats":N,...}} (this one included)

Every path also answers HEAD where it answers GET. Unknown paths get 404, known paths with another
method 405 with Allow. SIGINT or SIGTERM stops the stub (exit 0); bad arguments exit 2.
)";
}

}  // namespace sluice::stub
