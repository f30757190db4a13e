#pragma once
// The differential between sluice's upstream response parser (http1::response_parser) and
// Beast's (http::response_parser): the same bytes, fed the same way, through both. Where they
// disagree the table of allowed differences (response_differential.cpp) must name a reason the
// input holds, one of the places where ours is stricter or looser on purpose; any other
// disagreement is a bug in one of them. Used by the response_differential fuzz target and by the
// unit test that runs it over the committed corpus in `make test`.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/system/error_code.hpp>

namespace sluice::proof {

/// How the bytes reach a parser: pieces of these sizes in turn (cycled; empty: all at once),
/// the body taken through a window of `window` bytes, and the answer to a HEAD or not.
struct feed_plan {
  std::vector<std::size_t> pieces;
  std::size_t window = 4096;
  bool head = false;
};

/// What a parser made of a response, fed as http_io.cpp feeds it, the upstream closing after
/// the last byte.
struct parse_outcome {
  bool accepted = false;  ///< one whole message, no error
  boost::system::error_code ec;
  unsigned status = 0;
  unsigned version = 0;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> fields;  ///< in order, as received
  std::string body;
  std::size_t consumed = 0;  ///< where the message ended in the input
};

/// sluice's http1::response_parser.
parse_outcome parse_ours(std::string_view wire, const feed_plan& plan);
/// Beast's http::response_parser (header limit 64 KiB like ours, no body limit).
parse_outcome parse_beast(std::string_view wire, const feed_plan& plan);

/// One row of the table: a disagreement that is allowed, and why.
struct allowed_difference {
  std::string_view name;
  std::string_view why;
};

/// The differential's answer for one input.
struct differential_result {
  bool agree = true;                           ///< same verdict, and the same message when both accept
  const allowed_difference* allowed = nullptr;  ///< set when they disagree as the table allows
  std::string detail;                          ///< what differs (empty when they agree)
  bool ok() const { return agree || allowed != nullptr; }
};

/// Runs both parsers on `wire` under `plan` and compares them.
differential_result compare(std::string_view wire, const feed_plan& plan);

/// The table of allowed differences (for the docs and the unit test's coverage check).
std::span<const allowed_difference> allowed_differences();

/// A feed plan derived from the bytes themselves (a hash), so a fuzz input is its own seed.
feed_plan plan_from(std::string_view wire, bool head);

}  // namespace sluice::proof
