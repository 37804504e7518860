// Text helpers shared by every layer: UTF-8 validation (bad input never reaches an event),
// folding Latin accents to ASCII (the username rule and name search), case folding.
#pragma once

#include <string>
#include <string_view>

namespace carelog {

bool is_valid_utf8(std::string_view s) noexcept;

// Folds Latin-1 Supplement and Latin Extended-A letters to their ASCII base letters
// ("José Núñez" -> "Jose Nunez", "Ångström" -> "Angstrom", "ß" -> "ss"); other non-ASCII
// code points are dropped. Input must be valid UTF-8.
std::string fold_to_ascii(std::string_view utf8);

std::string ascii_lower(std::string_view s);

// Trims ASCII whitespace at both ends.
std::string_view trim(std::string_view s) noexcept;

}  // namespace carelog
