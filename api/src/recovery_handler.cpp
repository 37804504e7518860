// Recovery of a locked-out staff member by an administrator: reset their TOTP (a lost phone), give
// them a temporary password (a forgotten one, also unlocking the account), end all their sessions
// (a stolen device). The domain decides each (aggregates/identity.hpp: reset_mfa,
// set_temporary_password, end_sessions); the route's permission and access::can_act_on decide who
// may. Each takes an optional `reason` (up to 500 characters) that goes into the server log with
// the administrator's and the staff member's ids; the events record that an administrator acted.
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "carelog/aggregates/identity.hpp"
#include "carelog/api/password_policy.hpp"
#include "carelog/api/request.hpp"
#include "carelog/base/secrets.hpp"
#include "handlers.hpp"
#include "identity.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

std::string read_reason(body_reader& r) {
    auto reason = r.optional_string("reason").value_or("");
    std::size_t chars = 0;
    for (unsigned char c : reason) chars += (c & 0xC0) != 0x80;  // code points (the body is valid UTF-8)
    if (chars > 500) r.add_error("reason", "must be at most 500 characters");
    return reason;
}

temporary_password::~temporary_password() { wipe(password); }

void check_temporary_password(body_reader& r, const events::Settings& policy, const std::optional<std::string>& given,
                              std::span<const std::string> usernames) {
    if (given)
        for (auto& v : password_policy_violations(policy, *given, usernames)) r.add_error("temporary_password", std::move(v));
}

http_result<temporary_password> make_temporary_password(const events::Settings& policy,
                                                        const std::optional<std::string>& given,
                                                        std::span<const std::string> usernames) {
    temporary_password t;
    t.generated = !given;
    t.password = given ? *given : generate_password(policy, usernames);
    auto hash = hash_password(t.password);
    if (!hash) return fail(errc::internal, "the password could not be hashed");
    t.hash = std::move(*hash);
    return t;
}

json::object shown_once(const temporary_password& t) {
    if (!t.generated) return {};
    return json::object{{"temporary_password", t.password}};
}

namespace {

void log_recovery(const request_context& rc, std::string_view action, const std::string& reason) {
    // The reason is the administrator's own words about a colleague: logged, never a secret.
    spdlog::info("recovery: {} of staff {} by staff {} (agency {}): {}", action, rc.param("id"), rc.who.staff_id,
                 rc.who.agency_id, reason.empty() ? std::string("no reason given") : reason);
}

}  // namespace

namespace {
// A recovery whose body holds only the reason: checks who may act, submits, logs.
http_result<http_response> recover_with(request_context& rc, const aggregates::command& cmd, std::string_view action) {
    if (auto ok = may_manage(rc, rc.param("id")); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto reason = read_reason(r);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());
    auto res = submit_command(rc, rc.who.agency_id, rc.who.staff_id, cmd, 200);
    if (res) log_recovery(rc, action, reason);
    return res;
}
}  // namespace

http_result<http_response> reset_staff_mfa(request_context& rc) {
    return recover_with(rc, aggregates::reset_mfa{rc.param("id")}, "TOTP reset");
}

http_result<http_response> end_staff_sessions(request_context& rc) {
    return recover_with(rc, aggregates::end_sessions{rc.param("id"), ""}, "all sessions ended");
}

http_result<http_response> set_staff_temporary_password(request_context& rc) {
    const std::string& id = rc.param("id");
    if (auto ok = may_manage(rc, id); !ok) return std::unexpected(ok.error());
    auto body = parse_json_body(rc.req, true);
    if (!body) return std::unexpected(body.error());
    body_reader r(*body);
    auto temporary = r.optional_string("temporary_password");
    auto reason = read_reason(r);
    auto state = identity_state(rc.ctx, rc.who.agency_id, id);
    const aggregates::staff_state* member = nullptr;
    if (state)
        if (auto it = state->staff.find(id); it != state->staff.end()) member = &it->second;
    if (!member) return fail(errc::not_found, "no such staff member");
    const std::vector<std::string> usernames{member->profile.username};
    check_temporary_password(r, state->settings, temporary, usernames);
    if (auto f = r.finish(); !f) return std::unexpected(f.error());

    auto password = make_temporary_password(state->settings, temporary, usernames);
    if (!password) return std::unexpected(password.error());
    aggregates::set_temporary_password c;
    c.staff_id = id;
    c.new_password_hash = password->hash;
    c.new_password_policy_ok = true;
    c.require_change = true;
    c.now = rc.ctx.clock.now();
    auto res = submit_command(rc, rc.who.agency_id, rc.who.staff_id, c, 200, shown_once(*password));
    if (res) log_recovery(rc, "temporary password set", reason);
    return res;
}

}  // namespace carelog::api::detail
