// Tests for strata/io/json.hpp.
#include <doctest/doctest.h>

#include <string>

#include <strata/io/json.hpp>

using namespace strata::io;

TEST_CASE("parse_json reads objects, arrays, strings with escapes and numbers") {
  const JsonValue v = parse_json(R"( {"a": [1, -2, 3.5e1], "b": {"c": "x\"y\\n\u00e9"}, "d": true, "e": null} )");
  REQUIRE(v.kind == JsonValue::Kind::object);
  const auto& a = *v.object->at("a").array;
  CHECK(a[0].integer == 1);
  CHECK(a[1].integer == -2);
  CHECK(a[2].number == 35.0);
  CHECK(v.object->at("b").object->at("c").string == "x\"y\\n\xc3\xa9");
  CHECK(v.object->at("d").boolean);
  CHECK(v.object->at("e").kind == JsonValue::Kind::null);
  CHECK(parse_json(json_quote("tab\there \"q\" \x01")).string == "tab\there \"q\" \x01");
}

TEST_CASE("parse_json rejects malformed input with the byte offset, and deep nesting") {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1,\"a\":2}", "\"unterminated", "[1] x", "{1:2}",
                          "99999999999999999999", "\"\\u12\"", "-"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_json(bad), JsonError);
  }
  CHECK_THROWS_WITH(parse_json(std::string(100, '[') + std::string(100, ']')), doctest::Contains("nested too deeply"));
  CHECK_THROWS_WITH(parse_json("[1, x]"), doctest::Contains("at byte 4"));
}
