// Fuzz target: the differential between our response parser and Beast's
// (response_differential.hpp). Bytes in, fed to both whole and in pieces drawn from a hash of
// the input, as the answer to a GET and to a HEAD. A disagreement the table of allowed
// differences does not explain is a crash, printed with both parsers' outcomes.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "response_differential.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view wire(reinterpret_cast<const char*>(data), size);
  for (const bool head : {false, true}) {
    for (const auto& plan : {sluice::proof::feed_plan{{}, 4096, head}, sluice::proof::plan_from(wire, head)}) {
      const auto r = sluice::proof::compare(wire, plan);
      if (!r.ok()) {
        std::fprintf(stderr, "parsers disagree (%s): %s\n", head ? "HEAD" : "GET", r.detail.c_str());
        std::abort();
      }
    }
  }
  return 0;
}
