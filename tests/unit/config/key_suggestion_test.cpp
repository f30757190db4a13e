// "did you mean": close slips get a suggestion, unrelated words do not.
#include "config/key_suggestion.hpp"

#include <doctest/doctest.h>

#include <array>

using sluice::config::closest_word;

TEST_CASE("closest_word forgives one slip in a short word and two in a long one") {
  constexpr std::array<std::string_view, 6> known{"per", "rate", "algorithm", "burst", "max_in_flight",
                                                  "name"};
  CHECK(closest_word("burts", known) == "burst");
  CHECK(closest_word("Rate", known) == "rate");
  CHECK(closest_word("rat", known) == "rate");
  CHECK(closest_word("algoritm", known) == "algorithm");
  CHECK(closest_word("max_inflight", known) == "max_in_flight");
  CHECK(closest_word("max-in-flight", known) == "max_in_flight");
  CHECK(closest_word("pr", known) == "per");
  CHECK_FALSE(closest_word("key", known).has_value());
  CHECK_FALSE(closest_word("limit", known).has_value());
  CHECK_FALSE(closest_word("x", known).has_value());
}
