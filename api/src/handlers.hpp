// Private to api/: what the router hands a handler, the helpers handlers share, and every
// handler's declaration (one .cpp per resource).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/url_view.hpp>

#include "carelog/aggregates/command.hpp"
#include "carelog/api/app.hpp"
#include "carelog/api/principal.hpp"
#include "carelog/api/problem.hpp"
#include "carelog/api/request.hpp"
#include "carelog/api/router.hpp"
#include "carelog/projections/store.hpp"
#include "carelog/base/errc.hpp"

namespace carelog::api::detail {

struct request_context {
    app_context& ctx;
    const http_request& req;
    const route_info& route;
    boost::urls::url_view url;
    std::vector<std::pair<std::string_view, std::string>> params;  // path parameters by template name
    principal who;                 // empty for auth_kind::none
    std::string idempotency_key;   // validated; "" = none (command routes only)
    std::string peer;              // the client's address as the socket saw it ("" in tests)
    // What a read showed, for its record view (the router records it once the handler answered):
    // the client or staff member whose data it was, when that is not the path's {id} (a thread's
    // client), and how many records a list returned.
    std::string viewed_subject;
    std::size_t viewed_items = 1;

    const std::string& param(std::string_view name) const;
};

using handler_fn = http_result<http_response> (*)(request_context&);

// 2xx JSON response (Content-Type application/json).
http_response json_response(int status, const boost::json::value& body);
// The same with a body already serialized (a stored view served as it is).
http_response json_text_response(int status, std::string body);
// Adds `more`'s members to the serialized JSON object `object_text` (whose keys they must not repeat).
void append_members(std::string& object_text, const boost::json::object& more);

// The answer to a command the engine took: the body shaped from its events, with `extra` merged in
// unless it is an Idempotency-Key replay (Idempotent-Replayed: true), its `version` and
// `consistency_token` (also X-Consistency-Token).
http_response committed_response(int status, command_result&& r, boost::json::object extra = {});

// Submits a command for `agency_id` and answers `status` with the bus's body plus `version` and
// `consistency_token` (also X-Consistency-Token), `extra` merged in unless the result is an
// Idempotency-Key replay (which answers the first result's body with Idempotent-Replayed: true).
http_result<http_response> submit_command(request_context& rc, const std::string& agency_id, const std::string& actor,
                                     const aggregates::command& cmd, int status, boost::json::object extra = {});

// Like submit_command, for commands whose inputs were checked against read models that may lag
// (password hashes, TOTP secrets): `build` is called again while the domain says its check was
// stale (a few times, briefly apart). With `wait_own`, the answer waits until this node's
// projections applied the command (the caller's next request sees it).
http_result<http_response> submit_checked(request_context& rc, const std::string& agency_id, const std::string& actor,
                                          const std::function<http_result<aggregates::command>()>& build, int status,
                                          boost::json::object extra = {}, bool wait_own = true);
// The bus call behind submit_checked (retrying stale checks), for handlers shaping their own answer.
result<command_result> submit_retrying(request_context& rc, const std::string& agency_id, const std::string& actor,
                                       const std::function<http_result<aggregates::command>()>& build,
                                       std::optional<problem>& refused);

// 200 {items, next_cursor} from a store page; a cursor the store cannot read is 422 on "cursor".
http_result<http_response> page_response(result<projections::page> page);

// Whether the projections applied the command behind `token`, waiting up to `timeout` (on a
// request fiber without holding its thread). errc::malformed for a token that is not one.
result<bool> wait_applied(app_context& ctx, const std::string& token, std::chrono::milliseconds timeout);

// A link for a mail: CARELOG_PUBLIC_URL (without a trailing slash) followed by `path_and_query`.
std::string public_link(const app_context& ctx, std::string_view path_and_query);
// A reset link's request, recorded: the agency, the aggregate the domain issued the link for
// (staff member or client), the link's token and when.
struct recorded_link {
    std::string agency_id;
    std::string aggregate_id;
    std::string token;
    micros now = 0;
};
// The part of a "forgot password" request that runs after the caller has its 202: finds the agency
// by slug, makes a token, submits `make(token_hash, now)` anonymously and waits until this node's
// projections applied it. Nothing when the slug names no agency or the domain issued no link
// (unknown account, one just sent); when Kafka refused, that is logged (`what`) and nothing is sent.
std::optional<recorded_link> record_link_request(
    app_context& ctx, const std::string& slug,
    const std::function<aggregates::command(const std::string& token_hash, micros now)>& make, std::string_view what);
// A "forgot password" route: reads {agency, username}, answers 202 at once, the same way whether or
// not the account exists, and runs `after(ctx, slug, username)` on a detached fiber.
http_result<http_response> accept_link_request(
    request_context& rc, void (*after)(app_context& ctx, const std::string& slug, const std::string& username));
// Hands a link mail to the notifications topic once its command is durable. When there is no sink,
// or publishing fails, the mail is not sent and the log says which (`what`, e.g. "reset link for
// staff <id>"); the command stays recorded and the user may ask again.
void publish_link(app_context& ctx, const notify::notification& n, std::string_view what);

// Read-your-writes without asking: waits (up to cfg.read_wait, on the fiber) until this node's
// projections applied every command its writer acknowledged for the agency, so a check that reads
// projections never refuses what an acknowledged command created. Returns whether it had to wait.
bool catch_up(app_context& ctx, const std::string& agency_id);

// A session's own writes: the router records the position of each command a session made on this
// node and, before the session's next read, waits (up to cfg.read_wait) for exactly that position:
// whether it waited, or errc::unavailable when the projections did not get there. Before its next
// command it waits only for the writes that may change the session's principal (`principal_write`:
// its own staff record, its agency's settings, a portal or kiosk session's client), since commands
// are decided against the writer's state; a command that read projections and found nothing is
// run again after the wait (router.cpp, `route_request`).
void remember_own_write(app_context& ctx, const principal& who, const http_response& res, bool principal_write);
result<bool> await_own_writes(app_context& ctx, const principal& who, bool principal_only = false);

// Waits for X-Consistency-Token (if sent) to be applied by the projections: 400 if malformed,
// 503 (Retry-After) when not applied within cfg.read_wait.
result<void> await_consistency(app_context& ctx, const http_request& req);

// auth.cpp
result<void> check_operator_key(const app_context& ctx, const http_request& req);
// The token of `Authorization: Bearer <token>`.
result<std::string> bearer_token(const http_request& req);
// The live session behind a token (401 for anything else), touched or expired as due.
result<principal> session_principal(app_context& ctx, const std::string& token);
// The route's permission for this principal: 403 naming a pending password change / MFA
// enrolment, or the role.
result<void> check_permission(const principal& p, std::string_view permission);
// access::can_act_on for a staff target of this agency (403); an unknown target passes (the
// command answers 404).
result<void> may_manage(request_context& rc, const std::string& target_id);

// The agency's current Settings (for its password policy); defaults for fields the view lacks.
events::Settings agency_settings(app_context& ctx, const std::string& agency_id);

// ---- handlers ----
http_result<http_response> healthz(request_context&);
http_result<http_response> readyz(request_context&);
http_result<http_response> metrics_text(request_context&);
http_result<http_response> openapi(request_context&);

http_result<http_response> create_agency(request_context&);
http_result<http_response> get_settings(request_context&);
http_result<http_response> change_settings(request_context&);

http_result<http_response> add_location(request_context&);
http_result<http_response> list_locations(request_context&);
http_result<http_response> add_program(request_context&);
http_result<http_response> list_programs(request_context&);

http_result<http_response> create_staff(request_context&);
http_result<http_response> list_staff(request_context&);
http_result<http_response> preview_staff_username(request_context&);
http_result<http_response> get_staff(request_context&);
http_result<http_response> update_staff_profile(request_context&);
http_result<http_response> assign_role(request_context&);
http_result<http_response> set_staff_type(request_context&);
http_result<http_response> set_staff_locations(request_context&);
http_result<http_response> set_staff_programs(request_context&);
http_result<http_response> set_staff_permissions(request_context&);
http_result<http_response> deactivate_staff(request_context&);
http_result<http_response> staff_history(request_context&);
http_result<http_response> unlock_staff(request_context&);

// recovery_handler.cpp: an administrator's way back in for a locked-out staff member
http_result<http_response> reset_staff_mfa(request_context&);
http_result<http_response> set_staff_temporary_password(request_context&);
http_result<http_response> end_staff_sessions(request_context&);

// auth_handler.cpp
http_result<http_response> login(request_context&);
http_result<http_response> logout(request_context&);
http_result<http_response> current_session(request_context&);
http_result<http_response> change_password(request_context&);
http_result<http_response> request_password_reset(request_context&);
http_result<http_response> confirm_password_reset(request_context&);
http_result<http_response> enroll_mfa(request_context&);
http_result<http_response> confirm_mfa(request_context&);

// ---- the client portal, messaging and kiosk ----
// portal.cpp: the principals that are not staff (401 for anything but a live one).
// A portal client: the live portal session behind the token (check_portal_session).
result<principal> portal_principal(app_context& ctx, const std::string& token);
// A kiosk: the kiosk session the token opens (find_live_kiosk), or a submitted one not yet expired
// (kiosk_submitted: only a repeated submit reaches the domain, which answers 409).
result<principal> kiosk_principal(app_context& ctx, const std::string& token);
// message_handler.cpp: {items, next_cursor} of an oldest-first list that only grows at its end
// (threads, messages, kiosk sessions); the cursor is opaque to callers. 400 for a foreign cursor.
http_result<boost::json::object> list_page(boost::json::array all, int limit, const std::optional<std::string>& cursor);
// portal_handler.cpp
http_result<http_response> portal_login(request_context&);
http_result<http_response> portal_logout(request_context&);
http_result<http_response> portal_me(request_context&);
http_result<http_response> unlock_portal(request_context&);
http_result<http_response> end_portal_sessions(request_context&);
http_result<http_response> set_portal_temporary_password(request_context&);
http_result<http_response> change_portal_password(request_context&);
http_result<http_response> request_portal_password_reset(request_context&);
http_result<http_response> confirm_portal_password_reset(request_context&);
// message_handler.cpp
http_result<http_response> list_portal_threads(request_context&);
http_result<http_response> list_portal_thread_messages(request_context&);
http_result<http_response> send_portal_message(request_context&);
http_result<http_response> send_staff_message(request_context&);
http_result<http_response> list_message_threads(request_context&);
http_result<http_response> get_message_thread(request_context&);
// kiosk_handler.cpp
http_result<http_response> start_kiosk_session(request_context&);
http_result<http_response> get_kiosk_form(request_context&);
http_result<http_response> submit_kiosk(request_context&);
http_result<http_response> list_client_kiosk_sessions(request_context&);
// ---- clients, portal invitations and registration ----
// client_handler.cpp
// Who the caller is for client visibility (administration types all, therapy_counseling assigned).
projections::client_viewer viewer_of(const principal& who);
// The client's view when the caller may see it; nullopt answers 404 (also other agencies').
std::optional<boost::json::object> visible_client(request_context& rc, const std::string& client_id);
// The portal account of the path's {id} when the caller may see its client; else 404.
http_result<boost::json::object> visible_account(request_context& rc);
http_result<http_response> create_client(request_context&);
http_result<http_response> list_clients(request_context&);
http_result<http_response> get_client(request_context&);
http_result<http_response> assign_client_staff(request_context&);
http_result<http_response> unassign_client_staff(request_context&);
http_result<http_response> client_history(request_context&);
http_result<http_response> import_clients(request_context&);
http_result<http_response> get_portal_account(request_context&);
http_result<http_response> change_portal_account_username(request_context&);
// invitation_handler.cpp
http_result<http_response> send_portal_invitation(request_context&);
http_result<http_response> list_portal_invitations(request_context&);
http_result<http_response> resend_portal_invitation(request_context&);
http_result<http_response> revoke_portal_invitation(request_context&);
http_result<http_response> portal_register(request_context&);

// recovery_handler.cpp: the optional "reason" of an administrator's recovery action (staff or
// portal); more than 500 characters (code points) is a field error the reader reports at finish().
std::string read_reason(body_reader& r);
// An administrator's temporary password (staff or portal): the one given in "temporary_password",
// whose policy violations check_temporary_password adds to `r` on that field before finish(), or,
// when none is given, one generated under the agency's policy (answered once: shown_once()).
struct temporary_password {
    std::string password;
    std::string hash;
    bool generated = false;
    ~temporary_password();  // wipes the password
};
void check_temporary_password(body_reader& r, const events::Settings& policy, const std::optional<std::string>& given,
                              std::span<const std::string> usernames);
http_result<temporary_password> make_temporary_password(const events::Settings& policy,
                                                        const std::optional<std::string>& given,
                                                        std::span<const std::string> usernames);
// {"temporary_password": ...} for a generated one (its only showing; only the hash is kept), else {}.
boost::json::object shown_once(const temporary_password& t);

// audit_handler.cpp
http_result<http_response> audit_events(request_context&);
// The values of GET /v1/audit/events?type=: every event type name of the schema, and RecordViewed.
std::span<const char* const> audit_event_types();

// openapi.cpp: the document generated from the route table (built once).
const std::string& openapi_document(const std::string& public_url);

}  // namespace carelog::api::detail
