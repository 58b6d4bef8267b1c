#include "internal/text_rules.h"

#include <catch2/catch.hpp>
#include <string>

namespace dtx::internal {
namespace {

using namespace std::string_literals;

TEST_CASE("IsToken follows RFC 9110") {
  CHECK(IsToken("Authorization"));
  CHECK(IsToken("x-request-id"));
  CHECK(IsToken("a!#$%&'*+-.^_`|~9"));
  CHECK_FALSE(IsToken(""));
  CHECK_FALSE(IsToken("a b"));
  CHECK_FALSE(IsToken("a/b"));
  CHECK_FALSE(IsToken("a:b"));
  CHECK_FALSE(IsToken("caf\xc3\xa9"));
  CHECK_FALSE(IsToken("a\0b"s));
}

TEST_CASE("field values, printable and visible ASCII") {
  CHECK(IsFieldValue("Bearer abc\tdef"));
  CHECK(IsFieldValue("caf\xc3\xa9"));  // obs-text
  CHECK_FALSE(IsFieldValue("a\r\nb"));
  CHECK_FALSE(IsFieldValue("a\0b"s));
  CHECK_FALSE(IsFieldValue("a\x7f"));
  CHECK(IsPrintableAscii("Bearer abc ~"));
  CHECK_FALSE(IsPrintableAscii("caf\xc3\xa9"));
  CHECK_FALSE(IsPrintableAscii("a\tb"));
  CHECK(IsVisibleAscii("http://h:1/p?q=1"));
  CHECK_FALSE(IsVisibleAscii("http://h/a b"));
}

TEST_CASE("Excerpt keeps valid UTF-8 within its size") {
  CHECK(Excerpt("plain text", 100) == "plain text");
  CHECK(Excerpt("a\r\nb\0c\x7f\td"s, 100) == "a??b?c?\td");
  CHECK(Excerpt("\xff\xfe ok \xc3", 100) == "?? ok ?");
  CHECK(Excerpt("\xed\xa0\x80", 100) == "???");  // a surrogate is not UTF-8
  CHECK(Excerpt("\xc0\xaf", 100) == "??");       // nor an overlong form
  // C1's NEL becomes '?'; a no-break space stays.
  CHECK(Excerpt("a\xc2\x85"
                "b\xc2\xa0"
                "c",
                100) ==
        "a?b\xc2\xa0"
        "c");
  CHECK(Excerpt("0123456789", 8) == "01234...");
  // A cut never splits a character: "é" is two bytes.
  CHECK(Excerpt("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 7) == "\xc3\xa9\xc3\xa9...");
  CHECK(Excerpt("\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 6) == "\xc3\xa9...");
  CHECK(Excerpt("abcdef", 2).empty());
  CHECK(Excerpt(std::string(5000, 'x'), 1024).size() == 1024);
}

}  // namespace
}  // namespace dtx::internal
