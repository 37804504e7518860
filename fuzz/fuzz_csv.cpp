// The client CSV import's parser on arbitrary text: it never crashes, every row and every error
// names a line inside the file, a line is imported or refused (never both), and no more records come
// out than the file has lines.
#include <cstddef>
#include <set>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "carelog/aggregates/client_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = carelog::aggregates::parse_clients_csv(text, 1'760'000'000'000'000);
    if (!parsed) return 0;
    // Lines end at \n, \r\n or a lone \r (files from old spreadsheets).
    std::size_t lines = 1;
    for (std::size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n' || (text[i] == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) ++lines;
    for (const auto& row : parsed->rows)
        if (row.line < 2 || row.line > lines) std::abort();
    for (const auto& e : parsed->errors)
        if (e.line < 2 || e.line > lines) std::abort();
    // One record per line at most (a record may span lines inside quotes); a record may have an
    // error per field, all on its line; a line is either imported or refused, never both.
    std::set<std::size_t> imported, refused;
    for (const auto& row : parsed->rows) imported.insert(row.line);
    for (const auto& e : parsed->errors) refused.insert(e.line);
    if (imported.size() != parsed->rows.size()) std::abort();
    for (auto line : refused)
        if (imported.contains(line)) std::abort();
    if (imported.size() + refused.size() > lines - 1) std::abort();
    return 0;
}
