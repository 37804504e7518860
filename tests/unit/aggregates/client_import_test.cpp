// The CSV import parser: RFC 4180 quoting, per-line errors, header checks, UTF-8.
#include "client_fixtures.hpp"

#include "carelog/aggregates/client_import.hpp"
#include "carelog/base/text.hpp"

using namespace carelog;
using namespace carelog::aggregates;
using namespace carelog::aggregates::testing;

namespace {
client_import_parse parse(std::string_view text) {
    auto r = parse_clients_csv(text, now0);
    if (!r) FAIL("refused: " << describe(r.error()));
    return *r;
}
const char* header = "first_name,last_name,date_of_birth,email,phone,external_id\r\n";
}  // namespace

TEST_CASE("csv: plain rows parse with their line numbers", "[aggregates][csv]") {
    auto p = parse(std::string(header) + "Ann,Lee,1985-04-12,ann@example.org,555-010-0100,E1\r\n"
                                         "Bo,Diaz,2001-01-01,,,\r\n");
    REQUIRE(p.rows.size() == 2);
    CHECK(p.errors.empty());
    CHECK(p.records == 2);
    CHECK(p.rows[0].line == 2);
    CHECK(p.rows[0].fields.first_name == "Ann");
    CHECK(p.rows[0].fields.external_id == "E1");
    CHECK(p.rows[1].line == 3);
    CHECK(p.rows[1].fields.email.empty());
}

TEST_CASE("csv: quoted fields hold commas, quotes and line breaks", "[aggregates][csv]") {
    auto p = parse("first_name,last_name,date_of_birth,email,phone\n"
                   "\"Ann, Jr.\",\"O\"\"Brien\",1985-04-12,\"a@example.org\",\"555 0100 123\"\n"
                   "\"Multi\nLine\",Lee,1985-04-12,,\n"
                   "Cy,Park,1990-01-01,,\n");
    // "Multi\nLine" parses as one field, then is refused: a name must not hold control characters
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].line == 3);
    REQUIRE(p.rows.size() == 2);
    CHECK(p.rows[0].fields.first_name == "Ann, Jr.");
    CHECK(p.rows[0].fields.last_name == "O\"Brien");
    CHECK(p.rows[1].fields.first_name == "Cy");
    CHECK(p.rows[1].line == 5);  // the quoted line break counts
}

TEST_CASE("csv: a row with an embedded line break is reported on the line it starts", "[aggregates][csv]") {
    auto p = parse("first_name,last_name,date_of_birth,email,phone\n"
                   "\"Multi\nLine\",Lee,1985-04-12,,\n"
                   "Cy,Park,1990-01-01,,\n");
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].line == 2);
    CHECK(p.errors[0].field == "first_name");
    REQUIRE(p.rows.size() == 1);
    CHECK(p.rows[0].line == 4);
}

TEST_CASE("csv: bad values give one error per field with the line", "[aggregates][csv]") {
    auto p = parse(std::string(header) + "Ann,Lee,1985-02-30,ann@,555,\n"
                                         "Bo,Diaz,2999-01-01,,,\n"
                                         ",Lee,1985-04-12,,,\n"
                                         "Cy,Park,1990-01-01,,,\n");
    CHECK(p.rows.size() == 1);
    CHECK(p.records == 4);
    std::vector<std::pair<std::size_t, std::string>> got;
    for (const auto& e : p.errors) got.emplace_back(e.line, e.field);
    CHECK(got == std::vector<std::pair<std::size_t, std::string>>{
                     {2, "date_of_birth"}, {2, "email"}, {2, "phone"}, {3, "date_of_birth"}, {4, "first_name"}});
}

TEST_CASE("csv: a wrong number of fields and broken quoting are per-line errors", "[aggregates][csv]") {
    auto p = parse(std::string(header) + "Ann,Lee,1985-04-12\n"
                                         "Bo,Di\"az,2001-01-01,,,\n"
                                         "\"Cy\"x,Park,1990-01-01,,,\n"
                                         "Dee,Ray,1990-01-01,,,\n");
    REQUIRE(p.errors.size() == 3);
    CHECK(p.errors[0].line == 2);
    CHECK(p.errors[0].message.find("fields") != std::string::npos);
    CHECK(p.errors[1].line == 3);
    CHECK(p.errors[1].message.find("quote") != std::string::npos);
    CHECK(p.errors[2].line == 4);
    REQUIRE(p.rows.size() == 1);
    CHECK(p.rows[0].line == 5);
}

TEST_CASE("csv: an unterminated quote is reported where its record starts", "[aggregates][csv]") {
    auto p = parse(std::string(header) + "Ann,Lee,1985-04-12,,,\n\"Bo,Diaz,2001-01-01,,,\nCy,Park\n");
    REQUIRE(p.rows.size() == 1);
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].line == 3);
    CHECK(p.errors[0].message.find("not closed") != std::string::npos);
}

TEST_CASE("csv: invalid UTF-8 is a per-line error naming the field", "[aggregates][csv]") {
    auto p = parse(std::string(header) + "Ann,L\xC3\x28,1985-04-12,,,\nZo\xC3\xAB,Lee,1985-04-12,,,\n");
    REQUIRE(p.errors.size() == 1);
    CHECK(p.errors[0].line == 2);
    CHECK(p.errors[0].field == "last_name");
    CHECK(p.errors[0].message.find("UTF-8") != std::string::npos);
    REQUIRE(p.rows.size() == 1);
    CHECK(p.rows[0].fields.first_name == "Zoë");
}

TEST_CASE("csv: the header may reorder columns, omit external_id, and carry a BOM", "[aggregates][csv]") {
    auto p = parse("\xEF\xBB\xBF Email ,PHONE,last_name,first_name,date_of_birth\n\nann@example.org,,Lee,Ann,1985-04-12\n\n");
    CHECK(p.errors.empty());
    REQUIRE(p.rows.size() == 1);
    CHECK(p.rows[0].fields.email == "ann@example.org");
    CHECK(p.rows[0].fields.first_name == "Ann");
    CHECK(p.rows[0].line == 3);
}

TEST_CASE("csv: only first_name, last_name and date_of_birth are required columns", "[aggregates][csv]") {
    // No email and no phone column: the rows import with neither, as POST /v1/clients allows.
    auto p = parse_clients_csv("Date_Of_Birth, last_name ,first_name\n1985-04-12,Lee,Ann\n2001-01-01,Diaz,Bo\n", now0);
    REQUIRE(p);
    CHECK(p->errors.empty());
    REQUIRE(p->rows.size() == 2);
    CHECK(p->rows[0].fields.first_name == "Ann");
    CHECK(p->rows[0].fields.email.empty());
    CHECK(p->rows[0].fields.phone.empty());
    CHECK(p->rows[1].fields.date_of_birth == "2001-01-01");
    // One optional column without the others.
    auto q = parse_clients_csv("first_name,last_name,date_of_birth,phone\nCy,Park,1990-03-02,555-010-0100\n", now0);
    REQUIRE(q);
    REQUIRE(q->rows.size() == 1);
    CHECK(q->rows[0].fields.phone == "555-010-0100");
    CHECK(q->rows[0].fields.email.empty());
}

TEST_CASE("csv: missing, unknown or repeated columns refuse the file", "[aggregates][csv]") {
    auto missing = parse_clients_csv("first_name,email,phone\nAnn,a@b.org,555\n", now0);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == errc::validation);
    REQUIRE(missing.error().fields.size() == 1);
    CHECK(missing.error().fields[0].message == "missing column(s): last_name, date_of_birth");
    auto unknown = parse_clients_csv("first_name,last_name,date_of_birth,email,phone,ssn\n", now0);
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().fields[0].message.find("ssn") != std::string::npos);
    auto twice = parse_clients_csv("first_name,last_name,date_of_birth,email,phone,email\n", now0);
    REQUIRE_FALSE(twice);
    CHECK(twice.error().fields[0].message.find("twice") != std::string::npos);
    CHECK_FALSE(parse_clients_csv("", now0));
    CHECK_FALSE(parse_clients_csv("\n\n", now0));
}

TEST_CASE("csv: rows feed add_client; a repeated external id is caught when deciding", "[aggregates][csv]") {
    client_fixture f;
    auto p = parse(std::string(header) + "Ann,Lee,1985-04-12,,,X1\nBo,Diaz,2001-01-01,,,X1\n");
    REQUIRE(p.rows.size() == 2);
    std::vector<std::size_t> conflicts;
    int n = 0;
    for (const auto& row : p.rows) {
        const auto& r = row.fields;
        auto d = f.try_(add_client{"imp-" + std::to_string(n++), r.first_name, r.last_name, r.date_of_birth, r.email,
                                   r.phone, r.external_id, f.now});
        if (d)
            fold_in(f.s, *d, f.now);
        else if (d.error().code == errc::conflict)
            conflicts.push_back(row.line);
    }
    CHECK(conflicts == std::vector<std::size_t>{3});
}

TEST_CASE("csv: a header of huge or many unknown columns is refused without repeating the file back",
          "[aggregates][csv]") {
    std::string huge = "first_name,last_name,date_of_birth," + std::string(1u << 20, 'a') + "\n";
    auto r = parse_clients_csv(huge, now0);
    REQUIRE_FALSE(r.has_value());
    std::size_t echoed = r.error().detail.size();
    for (const auto& f : r.error().fields) echoed += f.message.size();
    CHECK(echoed < 1000);
    bool named = false;
    for (const auto& f : r.error().fields) named = named || f.message.find("unknown column 'aaaa") == 0;
    CHECK(named);

    std::string many = "first_name,last_name,date_of_birth";
    for (int i = 0; i < 5000; ++i) many += ",extra" + std::to_string(i);
    auto m = parse_clients_csv(many + "\n", now0);
    REQUIRE_FALSE(m.has_value());
    CHECK(m.error().fields.size() <= 12);
    CHECK(m.error().fields.back().message == "and 4990 more unknown columns");

    // A name cut inside a multi-byte character is cut before it.
    std::string accents = "first_name,last_name,date_of_birth,";
    for (int i = 0; i < 100; ++i) accents += "é";
    auto a = parse_clients_csv(accents + "\n", now0);
    REQUIRE_FALSE(a.has_value());
    for (const auto& f : a.error().fields) CHECK(is_valid_utf8(f.message));
}
