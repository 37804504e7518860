// Text helpers: UTF-8 validation (bad input never reaches an event) and ASCII folding (the
// username rule and name search depend on it).
#include <catch2/catch.hpp>

#include <string>

#include "carelog/base/text.hpp"

using namespace carelog;

TEST_CASE("text: accents fold to their ASCII letters", "[base][text]") {
    CHECK(fold_to_ascii("José Núñez") == "Jose Nunez");
    CHECK(fold_to_ascii("Ångström") == "Angstrom");
    CHECK(fold_to_ascii("Straße") == "Strasse");
    CHECK(fold_to_ascii("Æsir Øre") == "AEsir Ore");
    CHECK(fold_to_ascii("Łódź") == "Lodz");
    CHECK(fold_to_ascii("Dvořák") == "Dvorak");
    CHECK(fold_to_ascii("Šťastný") == "Stastny");
    CHECK(fold_to_ascii("François Œuvre") == "Francois OEuvre");
    CHECK(fold_to_ascii("Ÿ") == "Y");
    CHECK(fold_to_ascii("ſ") == "s");
}

TEST_CASE("text: ASCII passes through folding untouched", "[base][text]") {
    std::string ascii;
    for (int c = 1; c < 128; ++c) ascii.push_back(static_cast<char>(c));
    CHECK(fold_to_ascii(ascii) == ascii);
    CHECK(fold_to_ascii("") == "");
}

TEST_CASE("text: letters outside Latin are dropped by folding", "[base][text]") {
    CHECK(fold_to_ascii("王 Li") == " Li");
    CHECK(fold_to_ascii("Ελένη") == "");
    CHECK(fold_to_ascii("a\xf0\x9f\x98\x80" "b") == "ab");  // emoji
    CHECK(fold_to_ascii("×÷") == "");                      // Latin-1 signs, not letters
}

TEST_CASE("text: folding invalid UTF-8 does not read past the end", "[base][text]") {
    CHECK_NOTHROW(fold_to_ascii("abc\xc3"));
    CHECK_NOTHROW(fold_to_ascii("\xe2\x82"));
    CHECK_NOTHROW(fold_to_ascii("\xff\xfe"));
    CHECK(fold_to_ascii("ab\xc3").substr(0, 2) == "ab");
}

TEST_CASE("text: well-formed UTF-8 is accepted", "[base][text][utf8]") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ASCII"));
    CHECK(is_valid_utf8("\xc2\x80"));                   // U+0080, smallest 2-byte
    CHECK(is_valid_utf8("\xdf\xbf"));                   // U+07FF
    CHECK(is_valid_utf8("\xe0\xa0\x80"));               // U+0800, smallest 3-byte
    CHECK(is_valid_utf8("\xed\x9f\xbf"));               // U+D7FF, just below the surrogates
    CHECK(is_valid_utf8("\xee\x80\x80"));               // U+E000, just above
    CHECK(is_valid_utf8("\xef\xbf\xbf"));               // U+FFFF
    CHECK(is_valid_utf8("\xf0\x90\x80\x80"));           // U+10000, smallest 4-byte
    CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));           // U+10FFFF, the last code point
    CHECK(is_valid_utf8("José 王 \xf0\x9f\x98\x80"));
    CHECK(is_valid_utf8(std::string("a\0b", 3)));       // NUL is valid UTF-8 (rejected elsewhere)
}

TEST_CASE("text: overlong encodings are refused", "[base][text][utf8]") {
    CHECK_FALSE(is_valid_utf8("\xc0\x80"));             // NUL in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xc1\xbf"));
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));             // '/' in 2 bytes
    CHECK_FALSE(is_valid_utf8("\xe0\x80\xaf"));         // '/' in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));         // U+07FF in 3 bytes
    CHECK_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));     // '/' in 4 bytes
    CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));     // U+FFFF in 4 bytes
}

TEST_CASE("text: surrogates and code points beyond U+10FFFF are refused", "[base][text][utf8]") {
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));         // U+D800
    CHECK_FALSE(is_valid_utf8("\xed\xbf\xbf"));         // U+DFFF
    CHECK_FALSE(is_valid_utf8("\xed\xa0\xbd\xed\xb8\x80"));  // CESU-8 surrogate pair
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));     // U+110000
    CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
    CHECK_FALSE(is_valid_utf8("\xfe"));
    CHECK_FALSE(is_valid_utf8("\xff"));
}

TEST_CASE("text: truncated and stray sequences are refused", "[base][text][utf8]") {
    CHECK_FALSE(is_valid_utf8("\xc3"));
    CHECK_FALSE(is_valid_utf8("Jos\xc3"));
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
    CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98"));
    CHECK_FALSE(is_valid_utf8("\x80"));                 // continuation without a lead
    CHECK_FALSE(is_valid_utf8("a\xbf" "b"));
    CHECK_FALSE(is_valid_utf8("\xc3" "A"));             // lead followed by ASCII
    CHECK_FALSE(is_valid_utf8("\xe2\x28\xa1"));
}

TEST_CASE("text: ascii_lower changes only ASCII capitals and trim only ASCII whitespace", "[base][text]") {
    CHECK(ascii_lower("TJones-ÉÀ") == "tjones-ÉÀ");
    CHECK(ascii_lower("already lower 123") == "already lower 123");
    CHECK(trim("  \t x y \r\n") == "x y");
    CHECK(trim("   ") == "");
    CHECK(trim("") == "");
    CHECK(trim("\xc2\xa0x") == "\xc2\xa0x");  // NBSP is not ASCII whitespace
}
