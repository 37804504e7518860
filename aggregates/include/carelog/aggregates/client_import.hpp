// CSV import of clients (SPEC §1 "Clients": bulk import with a per-row report and a dry run), the
// pure half: text/csv -> rows with per-line errors. The API then decides add_client for each good
// row one after another (a dry run decides against a copy of the state and appends nothing), so a
// row that breaks an agency rule (a taken external_id, also one repeated inside the file) is
// reported by its line too.
//
// Format: RFC 4180. A header row naming the columns first_name, last_name, date_of_birth and any of
// email, phone, external_id (optional, as in add_client), in any order, case-insensitively
// (surrounding spaces ignored);
// an unknown or repeated column, or a missing one, refuses the whole file (there is no row to trust).
// Fields are separated by commas, records by CRLF or LF; a field in double quotes may hold commas,
// line breaks and "" for a quote. A UTF-8 byte order mark at the start is skipped. Blank lines are
// skipped. Every record is checked on its own: invalid UTF-8, broken quoting, a wrong number of
// fields, and every field rule of add_client (validate_client_fields) become errors on that
// record's line, and parsing goes on with the next record. An unterminated quote swallows the rest
// of the file: one error on the line where the record began.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "carelog/aggregates/clients.hpp"

namespace carelog::aggregates {

struct client_import_row {
    std::size_t line = 0;  // 1-based physical line where the record starts (the header is line 1)
    client_fields fields;  // validated and trimmed
};
struct client_import_error {
    std::size_t line = 0;
    std::string field;  // "" for a problem of the whole record
    std::string message;
};
struct client_import_parse {
    std::vector<client_import_row> rows;
    std::vector<client_import_error> errors;  // ordered by line
    std::size_t records = 0;                  // data records seen (good + bad)
};

inline constexpr std::size_t max_import_records = 100'000;

// Whole-file problems (no header, bad header, too many records) are an error value (validation with
// field "header" / "file"); everything else is reported per line.
result<client_import_parse> parse_clients_csv(std::string_view text, micros now);

}  // namespace carelog::aggregates
