// The RFC 4180 reader of client_import.hpp: a small state machine over the bytes, one record at a
// time, so that a broken record costs one error line and never the rest of the file.
#include "carelog/aggregates/client_import.hpp"

#include <algorithm>
#include <array>

#include "carelog/base/text.hpp"

namespace carelog::aggregates {
namespace {

struct record {
    std::size_t line = 0;
    std::vector<std::string> fields;
    std::string problem;  // "" when well-formed
    bool blank() const { return fields.size() == 1 && fields[0].empty() && problem.empty(); }
};

class reader {
public:
    explicit reader(std::string_view text) : t_(text) {
        if (t_.starts_with("\xEF\xBB\xBF")) i_ = 3;
    }
    bool done() const { return i_ >= t_.size(); }

    // Reads the next record; false at the end of the text.
    bool next(record& r) {
        if (done()) return false;
        r = record{};
        r.line = line_;
        std::string field;
        for (;;) {
            if (done()) {
                r.fields.push_back(std::move(field));
                return true;
            }
            char c = t_[i_];
            if (c == '"' && field.empty() && !in_unquoted_) {
                if (!quoted(field, r)) {
                    r.fields.push_back(std::move(field));
                    return true;  // unterminated: the rest of the text was consumed
                }
                // after the closing quote: a separator, a line end, or the end
                if (done()) continue;
                char n = t_[i_];
                if (n == ',') {
                    ++i_;
                    r.fields.push_back(std::move(field));
                    field.clear();
                    continue;
                }
                if (n == '\r' || n == '\n') {
                    end_line();
                    r.fields.push_back(std::move(field));
                    return true;
                }
                if (r.problem.empty()) r.problem = "characters after a closing quote (quote the whole field)";
                skip_line();
                r.fields.push_back(std::move(field));
                return true;
            }
            if (c == ',') {
                ++i_;
                in_unquoted_ = false;
                r.fields.push_back(std::move(field));
                field.clear();
                continue;
            }
            if (c == '\r' || c == '\n') {
                end_line();
                in_unquoted_ = false;
                r.fields.push_back(std::move(field));
                return true;
            }
            if (c == '"' && r.problem.empty()) r.problem = "a quote inside an unquoted field (quote the whole field and double the quote)";
            in_unquoted_ = true;
            field.push_back(c);
            ++i_;
        }
    }

private:
    // At an opening quote: reads to the closing quote. False when the text ends first.
    bool quoted(std::string& field, record& r) {
        ++i_;
        while (!done()) {
            char c = t_[i_++];
            if (c == '"') {
                if (!done() && t_[i_] == '"') {
                    field.push_back('"');
                    ++i_;
                    continue;
                }
                return true;
            }
            if (c == '\n') ++line_;
            field.push_back(c);
        }
        r.problem = "a quoted field is not closed before the end of the file";
        return false;
    }
    void end_line() {
        if (t_[i_] == '\r' && i_ + 1 < t_.size() && t_[i_ + 1] == '\n') ++i_;
        ++i_;
        ++line_;
        in_unquoted_ = false;
    }
    void skip_line() {
        while (!done() && t_[i_] != '\n' && t_[i_] != '\r') ++i_;
        if (!done()) end_line();
        in_unquoted_ = false;
    }

    std::string_view t_;
    std::size_t i_ = 0;
    std::size_t line_ = 1;
    bool in_unquoted_ = false;
};

constexpr std::array<const char*, 6> columns = {"first_name", "last_name", "date_of_birth",
                                                "email",      "phone",     "external_id"};
constexpr std::size_t required_columns = 3;  // email, phone and external_id are optional, as in add_client
constexpr std::size_t max_echoed_name = 64;     // bytes of an unknown column's name repeated in an error
constexpr std::size_t max_echoed_columns = 10;  // unknown (or repeated) columns named one by one

}  // namespace

result<client_import_parse> parse_clients_csv(std::string_view text, micros now) {
    reader rd(text);
    record header;
    do {
        if (!rd.next(header)) return fail(error::validation("header", "the file is empty; the first row must name the columns"));
    } while (header.blank());
    if (!header.problem.empty()) return fail(error::validation("header", "line " + std::to_string(header.line) + ": " + header.problem));

    // column index in the file for each known column (npos = absent)
    std::array<std::size_t, columns.size()> at;
    at.fill(std::string::npos);
    std::vector<std::string> unknown, repeated;
    for (std::size_t i = 0; i < header.fields.size(); ++i) {
        if (!is_valid_utf8(header.fields[i])) {
            unknown.push_back("(invalid UTF-8)");
            continue;
        }
        auto name = ascii_lower(trim(header.fields[i]));
        auto k = std::find_if(columns.begin(), columns.end(), [&](const char* c) { return name == c; });
        if (k == columns.end())
            unknown.push_back(name);
        else if (at[static_cast<std::size_t>(k - columns.begin())] != std::string::npos)
            repeated.push_back(name);
        else
            at[static_cast<std::size_t>(k - columns.begin())] = i;
    }
    std::vector<field_error> header_errors;
    std::string missing;
    for (std::size_t k = 0; k < required_columns; ++k)
        if (at[k] == std::string::npos) missing += (missing.empty() ? "" : ", ") + std::string(columns[k]);
    if (!missing.empty()) header_errors.push_back({"header", "missing column(s): " + missing});
    // A name is echoed shortened, and only the first few: an error never repeats a file back.
    auto shown = [](const std::string& name) {
        if (name.size() <= max_echoed_name) return name;
        std::size_t cut = max_echoed_name;
        while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) --cut;  // a UTF-8 boundary
        return name.substr(0, cut) + "...";
    };
    for (std::size_t i = 0; i < unknown.size() && i < max_echoed_columns; ++i)
        header_errors.push_back({"header", "unknown column '" + shown(unknown[i]) + "'"});
    if (unknown.size() > max_echoed_columns)
        header_errors.push_back(
            {"header", "and " + std::to_string(unknown.size() - max_echoed_columns) + " more unknown columns"});
    for (std::size_t i = 0; i < repeated.size() && i < max_echoed_columns; ++i)
        header_errors.push_back({"header", "column '" + shown(repeated[i]) + "' appears twice"});
    if (!header_errors.empty())
        return fail(error{errc::validation,
                          "the header row must name first_name, last_name and date_of_birth, and may name "
                          "email, phone and external_id",
                          std::move(header_errors)});

    client_import_parse out;
    record r;
    while (rd.next(r)) {
        if (r.blank()) continue;
        if (++out.records > max_import_records)
            return fail(error::validation("file", "at most " + std::to_string(max_import_records) + " rows per import"));
        if (!r.problem.empty()) {
            out.errors.push_back({r.line, "", r.problem});
            continue;
        }
        if (r.fields.size() != header.fields.size()) {
            out.errors.push_back({r.line, "", "has " + std::to_string(r.fields.size()) + " fields; the header has " +
                                                  std::to_string(header.fields.size())});
            continue;
        }
        bool bad_utf8 = false;
        for (std::size_t k = 0; k < columns.size(); ++k)
            if (at[k] != std::string::npos && !is_valid_utf8(r.fields[at[k]])) {
                out.errors.push_back({r.line, columns[k], "is not valid UTF-8"});
                bad_utf8 = true;
            }
        if (bad_utf8) continue;
        auto get = [&](std::size_t k) { return at[k] == std::string::npos ? std::string() : r.fields[at[k]]; };
        auto fields = validate_client_fields({get(0), get(1), get(2), get(3), get(4), get(5)}, now);
        if (!fields) {
            for (const auto& fe : fields.error().fields) out.errors.push_back({r.line, fe.field, fe.message});
            continue;
        }
        out.rows.push_back({r.line, std::move(*fields)});
    }
    return out;
}

}  // namespace carelog::aggregates
