// GET /openapi.json: the OpenAPI 3.0 document, generated from the route table (paths, methods,
// auth, parameters, success status) plus the hand-written schemas of bodies below. A test checks
// that every route of the table is in it.
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "carelog/api/problem.hpp"
#include "handlers.hpp"

namespace carelog::api::detail {

namespace json = boost::json;

namespace {

// components/schemas. additionalProperties:false on request bodies: unknown fields are 422.
constexpr std::string_view schemas_json = R"json({
  "Problem": {"type": "object", "required": ["type", "title", "status"], "properties": {
    "type": {"type": "string", "format": "uri"}, "title": {"type": "string"}, "status": {"type": "integer"},
    "detail": {"type": "string"},
    "errors": {"type": "array", "items": {"type": "object", "required": ["field", "message"], "properties": {
      "field": {"type": "string"}, "message": {"type": "string"}}}}}},
  "Health": {"type": "object", "properties": {"status": {"type": "string"}}},
  "NewAgency": {"type": "object", "additionalProperties": false, "required": ["name", "slug", "admin"], "properties": {
    "name": {"type": "string"},
    "slug": {"type": "string", "pattern": "^[a-z0-9-]{3,63}$"},
    "admin": {"type": "object", "additionalProperties": false, "required": ["first_name", "last_name", "email", "password"],
      "properties": {"first_name": {"type": "string"}, "last_name": {"type": "string"},
        "email": {"type": "string", "format": "email"},
        "password": {"type": "string", "format": "password", "minLength": 12,
          "description": "Default policy: 12+ characters with upper, lower, digit and symbol, not containing the username"}}}}},
  "AgencyCreated": {"type": "object", "properties": {
    "agency_id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"},
    "admin": {"type": "object", "properties": {"staff_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"}}},
    "version": {"type": "integer"}, "consistency_token": {"type": "string", "nullable": true}}},
  "PasswordPolicy": {"type": "object", "additionalProperties": false, "properties": {
    "min_length": {"type": "integer", "minimum": 8, "maximum": 256}, "require_upper": {"type": "boolean"},
    "require_lower": {"type": "boolean"}, "require_digit": {"type": "boolean"}, "require_symbol": {"type": "boolean"},
    "disallow_username": {"type": "boolean"}}},
  "Lockout": {"type": "object", "additionalProperties": false, "properties": {
    "threshold": {"type": "integer", "minimum": 1, "maximum": 100}, "minutes": {"type": "integer", "minimum": 1, "maximum": 10080}}},
  "AgencySettings": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "slug": {"type": "string"}, "version": {"type": "integer"},
    "client_portal_enabled": {"type": "boolean"}, "messaging_enabled": {"type": "boolean"},
    "password_policy": {"$ref": "#/components/schemas/PasswordPolicy"}, "lockout": {"$ref": "#/components/schemas/Lockout"},
    "session_idle_minutes": {"type": "integer"}, "password_expiry_days": {"type": "integer", "description": "0 = never"},
    "mfa_required_roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
    "services": {"type": "array", "items": {"type": "string"}}}},
  "SettingsPatch": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "name": {"type": "string"}, "client_portal_enabled": {"type": "boolean"}, "messaging_enabled": {"type": "boolean"},
    "password_policy": {"$ref": "#/components/schemas/PasswordPolicy"}, "lockout": {"$ref": "#/components/schemas/Lockout"},
    "session_idle_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
    "password_expiry_days": {"type": "integer", "minimum": 0, "maximum": 3650},
    "mfa_required_roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
    "services": {"type": "array", "items": {"type": "string"}}}},
  "CommandResult": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true, "description": "null when nothing changed"}}},
  "NewLocation": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
    "name": {"type": "string"}, "address": {"type": "string"}}},
  "Location": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "address": {"type": "string"}}},
  "LocationList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Location"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "NewProgram": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {"name": {"type": "string"}}},
  "Program": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}}},
  "ProgramList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Program"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "Role": {"type": "string", "enum": ["org_admin", "admin", "biller", "therapist", "scheduler"]},
  "StaffType": {"type": "string", "enum": ["therapy_counseling", "administration", "administration_time_tracking"]},
  "Phone": {"type": "object", "additionalProperties": false, "required": ["kind", "number"], "properties": {
    "kind": {"type": "string"}, "number": {"type": "string"}}},
  "NewStaff": {"type": "object", "additionalProperties": false,
    "required": ["first_name", "last_name", "gender", "position", "email", "role", "type"], "properties": {
    "first_name": {"type": "string"}, "middle_name": {"type": "string"}, "last_name": {"type": "string"},
    "gender": {"type": "string"}, "position": {"type": "string"}, "email": {"type": "string", "format": "email"},
    "role": {"$ref": "#/components/schemas/Role"}, "type": {"$ref": "#/components/schemas/StaffType"},
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "username": {"type": "string", "description": "Only in the rule's shape: first initial [+ middle initial] + last name"},
    "temporary_password": {"type": "string", "format": "password", "description": "Must satisfy the agency's password policy; generated and returned once when absent"},
    "require_password_change": {"type": "boolean", "default": true},
    "hire_date": {"type": "string", "format": "date"},
    "phones": {"type": "array", "items": {"$ref": "#/components/schemas/Phone"}},
    "npi": {"type": "string", "pattern": "^[12][0-9]{9}$"},
    "supervisor_id": {"type": "string", "format": "uuid"}}},
  "StaffCreated": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "username": {"type": "string"}, "version": {"type": "integer"},
    "temporary_password": {"type": "string", "description": "Only when generated by the server; shown this once"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "Staff": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "first_name": {"type": "string"}, "middle_name": {"type": "string"}, "last_name": {"type": "string"},
    "gender": {"type": "string"}, "position": {"type": "string"}, "email": {"type": "string"},
    "role": {"$ref": "#/components/schemas/Role"}, "type": {"$ref": "#/components/schemas/StaffType"},
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "permissions": {"type": "object", "properties": {"client_portal": {"type": "boolean"}, "messaging": {"type": "boolean"}}},
    "active": {"type": "boolean"}, "version": {"type": "integer"}, "require_password_change": {"type": "boolean"},
    "hire_date": {"type": "string"}, "phones": {"type": "array", "items": {"$ref": "#/components/schemas/Phone"}},
    "npi": {"type": "string"}, "supervisor_id": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
    "locked": {"type": "boolean", "description": "Only for staff.lock_state holders (administrators)"},
    "locked_until": {"type": "string", "format": "date-time", "nullable": true, "description": "Administrators only; null = until an administrator unlocks"},
    "failed_attempts": {"type": "integer", "description": "Administrators only: consecutive failed logins"},
    "mfa_enrolled": {"type": "boolean", "description": "Administrators only"}}},
  "StaffList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Staff"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "StaffProfilePatch": {"type": "object", "additionalProperties": false, "minProperties": 1,
    "description": "Present fields change; null or \"\" clears middle_name, hire_date, npi, supervisor_id; null clears phones",
    "properties": {
    "first_name": {"type": "string"}, "middle_name": {"type": "string", "nullable": true}, "last_name": {"type": "string"},
    "gender": {"type": "string"}, "position": {"type": "string"}, "email": {"type": "string", "format": "email"},
    "hire_date": {"type": "string", "format": "date", "nullable": true},
    "phones": {"type": "array", "nullable": true, "items": {"$ref": "#/components/schemas/Phone"}},
    "npi": {"type": "string", "nullable": true}, "supervisor_id": {"type": "string", "format": "uuid", "nullable": true}}},
  "RoleBody": {"type": "object", "additionalProperties": false, "required": ["role"], "properties": {"role": {"$ref": "#/components/schemas/Role"}}},
  "TypeBody": {"type": "object", "additionalProperties": false, "required": ["type"], "properties": {"type": {"$ref": "#/components/schemas/StaffType"}}},
  "LocationIdsBody": {"type": "object", "additionalProperties": false, "required": ["location_ids"], "properties": {
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}},
  "ProgramIdsBody": {"type": "object", "additionalProperties": false, "required": ["program_ids"], "properties": {
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}},
  "PermissionsBody": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "client_portal": {"type": "boolean"}, "messaging": {"type": "boolean"}}},
  "DeactivateBody": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string"}}},
  "RecoveryBody": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string", "maxLength": 500, "description": "why (written to the server log with both staff ids)"}}},
  "TemporaryPasswordBody": {"type": "object", "additionalProperties": false, "properties": {"temporary_password": {"type": "string", "description": "must meet the agency's password policy; generated (and answered once) when absent"}, "reason": {"type": "string", "maxLength": 500}}},
  "PortalTemporaryPassword": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"temporary_password": {"type": "string", "description": "must meet the agency's password policy; generated (and answered once) when absent"}, "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "why the client gets a temporary password (kept in the event)"}}},
  "Event": {"type": "object", "properties": {
    "event_type": {"type": "string"}, "event_id": {"type": "string", "format": "uuid"}, "sequence": {"type": "integer"},
    "aggregate_type": {"type": "string"}, "aggregate_id": {"type": "string"}, "aggregate_version": {"type": "integer"},
    "occurred_at": {"type": "string", "format": "date-time"}, "actor_id": {"type": "string"}, "data": {"type": "object"}}},
  "LoginRequest": {"type": "object", "additionalProperties": false, "required": ["agency", "username", "password"], "properties": {
    "agency": {"type": "string", "description": "The agency's slug"}, "username": {"type": "string"},
    "password": {"type": "string", "format": "password"},
    "totp": {"type": "string", "pattern": "^[0-9]{6}$", "description": "Required once TOTP is enrolled and confirmed"},
    "cookie": {"type": "boolean", "description": "A browser session: the token goes into an HttpOnly SameSite=Strict cookie (not the body) and the body carries csrf_token, required as X-CSRF-Token on unsafe requests"}}},
  "StaffSummary": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "role": {"$ref": "#/components/schemas/Role"}, "type": {"$ref": "#/components/schemas/StaffType"}}},
  "LoginResult": {"type": "object", "properties": {
    "token": {"type": "string", "description": "Bearer token: send as Authorization: Bearer <token> (absent for cookie sessions)"},
    "csrf_token": {"type": "string", "description": "Cookie sessions only: send as X-CSRF-Token on every unsafe request"},
    "expires_at": {"type": "string", "format": "date-time", "description": "When the session ends if unused (idle timeout); each request moves it on"},
    "password_change_required": {"type": "boolean", "description": "The session may only change the password (and read itself / log out)"},
    "mfa_enrollment_required": {"type": "boolean", "description": "The role requires TOTP: the session may only enrol it"},
    "staff": {"$ref": "#/components/schemas/StaffSummary"}}},
  "UsernamePreview": {"type": "object", "properties": {
    "username": {"type": "string", "nullable": true, "description": "What POST /v1/staff would choose now"},
    "base": {"type": "string", "nullable": true}, "base_taken": {"type": "boolean"},
    "with_middle": {"type": "string", "nullable": true}, "with_middle_taken": {"type": "boolean"},
    "reason": {"type": "string", "nullable": true, "description": "Why there is no username"}}},
  "SessionInfo": {"type": "object", "properties": {"agency_id": {"type": "string", "format": "uuid"},
    "staff": {"$ref": "#/components/schemas/StaffSummary"}, "permissions": {"type": "array", "items": {"type": "string"}},
    "mfa_enrolled": {"type": "boolean"},
    "required_action": {"type": "string", "nullable": true, "enum": ["change_password", "enrol_mfa"]},
    "csrf_token": {"type": "string", "description": "When the session cookie authenticated the request: its CSRF token"}}},
  "PasswordChange": {"type": "object", "additionalProperties": false, "required": ["current_password", "new_password"], "properties": {
    "current_password": {"type": "string", "format": "password"}, "new_password": {"type": "string", "format": "password"}}},
  "PasswordResetRequest": {"type": "object", "additionalProperties": false, "required": ["agency", "username"], "properties": {
    "agency": {"type": "string", "description": "The agency's slug"}, "username": {"type": "string"}}},
  "PasswordResetConfirm": {"type": "object", "additionalProperties": false, "required": ["token", "new_password"], "properties": {
    "token": {"type": "string", "description": "The token of the reset link"}, "new_password": {"type": "string", "format": "password"}}},
  "Accepted": {"type": "object", "properties": {"status": {"type": "string"}, "detail": {"type": "string"}}},
  "MfaEnrollment": {"type": "object", "properties": {
    "secret": {"type": "string", "description": "Base32 TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s); shown this once"},
    "otpauth_uri": {"type": "string", "description": "otpauth://totp/... for authenticator apps; shown this once"},
    "version": {"type": "integer"}, "consistency_token": {"type": "string", "nullable": true}}},
  "MfaCode": {"type": "object", "additionalProperties": false, "required": ["code"], "properties": {
    "code": {"type": "string", "pattern": "^[0-9]{6}$"}}},
  "EventList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "AuditEntry": {"type": "object", "required": ["kind", "event_type", "event_id", "occurred_at", "actor_id"], "properties": {
    "kind": {"type": "string", "enum": ["change", "view"]},
    "event_type": {"type": "string", "description": "The event's type; RecordViewed for a view"},
    "event_id": {"type": "string", "format": "uuid"}, "sequence": {"type": "integer", "description": "Changes only"},
    "aggregate_type": {"type": "string", "description": "A change's aggregate; a view's subject (Client, Staff, or empty for a list)"},
    "aggregate_id": {"type": "string"}, "aggregate_version": {"type": "integer"},
    "occurred_at": {"type": "string", "format": "date-time"}, "actor_id": {"type": "string"},
    "data": {"type": "object", "description": "A change's payload; a view's actor_kind, record_type, record_id, resource, query, item_count, address, user_agent, request_id"}}},
  "AuditList": {"type": "object", "required": ["items", "next_cursor"], "properties": {
    "items": {"type": "array", "items": {"$ref": "#/components/schemas/AuditEntry"}},
    "next_cursor": {"type": "string", "nullable": true, "description": "More entries may follow (a page can hold fewer than limit, even none, and still have one)"}}}
})json";

// Clients, invitations and registration: merged into components/schemas.
constexpr std::string_view client_schemas_json = R"json({
  "NewClient": {"type": "object", "additionalProperties": false, "required": ["first_name", "last_name", "date_of_birth"],
    "properties": {"first_name": {"type": "string"}, "last_name": {"type": "string"},
      "date_of_birth": {"type": "string", "format": "date", "description": "YYYY-MM-DD, 1900 or later, not in the future"},
      "email": {"type": "string", "format": "email", "description": "Optional; never unique"},
      "phone": {"type": "string", "description": "Optional; 7 to 15 digits"},
      "external_id": {"type": "string", "description": "Optional; unique per agency (a repeated import is refused row by row)"}}},
  "ClientCreated": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "Client": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "first_name": {"type": "string"}, "last_name": {"type": "string"},
    "date_of_birth": {"type": "string", "format": "date"}, "email": {"type": "string", "nullable": true},
    "phone": {"type": "string", "nullable": true}, "external_id": {"type": "string", "nullable": true},
    "staff_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "portal_account_id": {"type": "string", "format": "uuid", "nullable": true}, "portal_username": {"type": "string", "nullable": true},
    "version": {"type": "integer"}, "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"}}},
  "ClientList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Client"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "ClientsCsv": {"type": "string", "description": "RFC 4180 CSV: a header naming first_name, last_name, date_of_birth and any of email, phone, external_id (any order), then one client per record"},
  "ImportRow": {"type": "object", "required": ["line", "status"], "properties": {
    "line": {"type": "integer", "description": "The physical line where the record starts (the header is line 1)"},
    "status": {"type": "string", "enum": ["imported", "valid", "failed"], "description": "valid: a dry run would import it"},
    "id": {"type": "string", "format": "uuid"},
    "errors": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}},
  "ImportReport": {"type": "object", "properties": {
    "dry_run": {"type": "boolean"}, "records": {"type": "integer"}, "imported": {"type": "integer"}, "valid": {"type": "integer"},
    "failed": {"type": "integer"}, "rows": {"type": "array", "items": {"$ref": "#/components/schemas/ImportRow"}},
    "consistency_token": {"type": "string", "nullable": true}}},
  "NewInvitation": {"type": "object", "additionalProperties": false, "properties": {
    "email": {"type": "string", "format": "email", "description": "Default: the client's e-mail"},
    "expires_at": {"type": "string", "format": "date-time", "description": "Default: 72 hours from now"}}},
  "InvitationResend": {"type": "object", "additionalProperties": false, "properties": {
    "expires_at": {"type": "string", "format": "date-time", "description": "Default: 72 hours from now"}}},
  "InvitationResult": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid", "description": "The client"}, "invitation_id": {"type": "string", "format": "uuid"},
    "email": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "Invitation": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"}, "email": {"type": "string"},
    "state": {"type": "string", "enum": ["sent", "registered", "expired", "revoked"]},
    "sent_at": {"type": "string", "format": "date-time"}, "expires_at": {"type": "string", "format": "date-time"},
    "resent_count": {"type": "integer"}, "revoked_at": {"type": "string", "nullable": true}, "accepted_at": {"type": "string", "nullable": true},
    "portal_account_id": {"type": "string", "nullable": true}}},
  "InvitationList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Invitation"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "PortalRegistration": {"type": "object", "additionalProperties": false, "required": ["token", "username", "password"], "properties": {
    "token": {"type": "string", "description": "The token of the invitation link"},
    "username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$", "description": "Not e-mail shaped; unique per agency (case-insensitive); never changes"},
    "password": {"type": "string", "format": "password", "description": "The agency's password policy applies"}}},
  "PortalRegistered": {"type": "object", "properties": {
    "portal_account_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"}, "id": {"type": "string", "format": "uuid", "description": "The client"},
    "version": {"type": "integer"}, "consistency_token": {"type": "string", "nullable": true}}},
  "PortalAccount": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"}, "last_login_at": {"type": "string", "nullable": true},
    "locked": {"type": "boolean"}, "locked_until": {"type": "string", "nullable": true}, "failed_logins": {"type": "integer"},
    "require_password_change": {"type": "boolean", "description": "A temporary password is set: the client must choose their own at the next login"}}},
  "UsernameBody": {"type": "object", "additionalProperties": false, "required": ["username"], "properties": {"username": {"type": "string"}}}
})json";

json::object query_param(std::string_view operation, std::string_view name) {
    json::object schema;
    std::string description;
    if (operation == "auditEvents" && name != "limit" && name != "cursor") {
        if (name == "subject_id") {
            schema = {{"type", "string"}, {"format", "uuid"}};
            description = "The client or staff member the entries are about (a change's aggregate, a view's subject)";
        } else if (name == "actor_id") {
            schema = {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}};
            description = "Who acted or read: a staff id, portal account id, kiosk session id, operator or system";
        } else if (name == "type") {
            schema = {{"type", "string"}};
            description = "An event type (ClientAdded, ...) or RecordViewed";
        } else if (name == "kind") {
            schema = {{"type", "string"}, {"enum", json::array{"change", "view"}}};
        } else if (name == "from" || name == "to") {
            schema = {{"type", "string"}, {"format", "date-time"}};
            description = name == "from" ? "Entries at or after this time" : "Entries before this time";
        } else if (name == "order") {
            schema = {{"type", "string"}, {"enum", json::array{"newest", "oldest"}}, {"default", "newest"}};
        } else if (name == "format") {
            schema = {{"type", "string"}, {"enum", json::array{"json", "csv"}}, {"default", "json"}};
            description = "csv: text/csv, up to 50,000 rows; the cursor of the rest in X-Next-Cursor";
        }
        json::object p{{"name", name}, {"in", "query"}, {"required", false}, {"schema", std::move(schema)}};
        if (!description.empty()) p["description"] = description;
        return p;
    }
    if (name == "role") schema = {{"$ref", "#/components/schemas/Role"}};
    else if (name == "type") schema = {{"$ref", "#/components/schemas/StaffType"}};
    else if (name == "location_id" || name == "program_id") schema = {{"type", "string"}, {"format", "uuid"}};
    else if (name == "active" || name == "dry_run") schema = {{"type", "boolean"}};
    else if (name == "limit") schema = {{"type", "integer"}, {"minimum", 1}, {"maximum", 500}, {"default", 50}};
    else if (name == "as_of") {
        schema = {{"type", "string"}, {"format", "date-time"}};
        description = "RFC 3339 time: answer the state at that time";
    } else if (name == "q") {
        schema = {{"type", "string"}};
        description = "Case- and accent-insensitive prefix of first name, last name or username";
    } else if (name == "cursor") {
        schema = {{"type", "string"}};
        description = "next_cursor of the previous page";
    } else schema = {{"type", "string"}};
    json::object p{{"name", name}, {"in", "query"}, {"required", false}, {"schema", std::move(schema)}};
    if (!description.empty()) p["description"] = description;
    return p;
}

json::object header_param(std::string_view name, std::string_view description) {
    return {{"name", name}, {"in", "header"}, {"required", false}, {"description", description},
            {"schema", json::object{{"type", "string"}}}};
}

json::object problem_ref(std::string_view description) {
    return {{"description", description},
            {"content", json::object{{"application/problem+json",
                                      json::object{{"schema", json::object{{"$ref", "#/components/schemas/Problem"}}}}}}}};
}

json::object operation(const route_info& r) {
    json::object op;
    op["operationId"] = r.operation_id;
    op["summary"] = r.summary;
    op["tags"] = json::array{r.tag};
    json::array params;
    // path parameters: every {name} of the template, all UUIDs
    for (std::size_t i = r.pattern.find('{'); i != std::string_view::npos; i = r.pattern.find('{', i + 1)) {
        auto j = r.pattern.find('}', i);
        params.push_back(json::object{{"name", r.pattern.substr(i + 1, j - i - 1)},
                                      {"in", "path"},
                                      {"required", true},
                                      {"schema", json::object{{"type", "string"}, {"format", "uuid"}}}});
    }
    for (std::size_t i = 0; i < r.query.size();) {
        auto j = r.query.find(',', i);
        if (j == std::string_view::npos) j = r.query.size();
        params.push_back(query_param(r.operation_id, r.query.substr(i, j - i)));
        i = j + 1;
    }
    if (r.auth == auth_kind::session || r.auth == auth_kind::portal_session || r.auth == auth_kind::kiosk)
        params.push_back(header_param("X-Consistency-Token",
                                      "Answer only once the projections applied that command (waits up to 5 s, then 503)"));
    if (r.command)
        params.push_back(header_param("Idempotency-Key",
                                      "Up to 200 printable ASCII characters; the same key with the same route and body returns the first result, with another route or body 422"));
    if (!params.empty()) op["parameters"] = std::move(params);

    if (!r.request_schema.empty()) {
        std::string ref = "#/components/schemas/" + std::string(r.request_schema);
        op["requestBody"] = json::object{
            {"required", r.request_schema != "DeactivateBody" && r.request_schema != "NewInvitation" &&
                             r.request_schema != "RecoveryBody" && r.request_schema != "TemporaryPasswordBody" &&
                             r.request_schema != "InvitationResend"},
            {"content", json::object{{r.request_schema == "ClientsCsv" ? "text/csv" : "application/json",
                                      json::object{{"schema", json::object{{"$ref", ref}}}}}}}};
    }

    json::object responses;
    json::object ok{{"description", r.success_status == 201 ? "Created" : "OK"}};
    if (r.pattern == "/metrics") {
        ok["content"] = json::object{{"text/plain", json::object{{"schema", json::object{{"type", "string"}}}}}};
    } else if (r.pattern == "/openapi.json") {
        ok["content"] = json::object{{"application/json", json::object{{"schema", json::object{{"type", "object"}}}}}};
    } else {
        json::object schema = r.response_schema.empty()
                                  ? json::object{{"type", "object"}}
                                  : json::object{{"$ref", "#/components/schemas/" + std::string(r.response_schema)}};
        ok["content"] = json::object{{"application/json", json::object{{"schema", std::move(schema)}}}};
    }
    if (r.command) {
        json::object h{{"X-Consistency-Token", json::object{{"schema", json::object{{"type", "string"}}}}},
                       {"Idempotent-Replayed", json::object{{"schema", json::object{{"type", "string"}, {"enum", json::array{"true"}}}}}}};
        ok["headers"] = std::move(h);
    }
    responses[std::to_string(r.success_status)] = std::move(ok);
    if (r.pattern == "/readyz") responses["503"] = json::object{{"description", "Projections are still catching up"}};
    if (!r.permission.empty()) {
        op["x-permission"] = r.permission;
        op["description"] = "Needs the permission `" + std::string(r.permission) +
                            "`. A session that must first change its password or enrol TOTP gets 403 for anything "
                            "else.";
    }
    if (r.pattern == "/v1/auth/login" || r.pattern == "/v1/portal/login") {
        responses["401"] = problem_ref("invalid credentials (the same answer for every refusal)");
        responses["422"] = problem_ref("Missing or mistyped fields");
    }
    if (r.pattern.starts_with("/v1/auth/password-reset") || r.pattern.starts_with("/v1/portal/password-reset"))
        responses["422"] = problem_ref("Invalid fields or reset token");
    if (r.auth != auth_kind::none) {
        auto status = [&](errc e) { return std::to_string(problem_for(e).status); };
        responses[status(errc::malformed)] = problem_ref("Malformed request or consistency token");
        responses[status(errc::unauthenticated)] = problem_ref("Missing or wrong credentials, or the session ended");
        responses[status(errc::forbidden)] = problem_ref("The role does not allow this, or a password change / TOTP enrolment comes first");
        responses[status(errc::not_found)] = problem_ref("No such agency or resource (also another agency's)");
        responses[status(errc::validation)] = problem_ref("Invalid fields or parameters");
        responses[status(errc::unavailable)] = problem_ref("Kafka or the projections not available in time; nothing accepted");
        if (r.command) {
            responses[status(errc::conflict)] = problem_ref("An invariant would break");
            responses[status(errc::too_large)] =
                problem_ref(r.pattern == "/v1/clients/import" ? "Body over 16 MiB" : "Body over 1 MiB");
            responses[std::to_string(problem_for(http_problem::unsupported_media_type).status)] =
                problem_ref("Content-Type is not application/json");
        }
    }
    responses["default"] = problem_ref("Any other problem");
    op["responses"] = std::move(responses);

    switch (r.auth) {
        case auth_kind::none: op["security"] = json::array{}; break;
        case auth_kind::operator_key: op["security"] = json::array{json::object{{"operatorKey", json::array{}}}}; break;
        case auth_kind::session: op["security"] = json::array{json::object{{"bearer", json::array{}}}}; break;
        case auth_kind::portal_session:
            op["security"] = json::array{json::object{{"portalSession", json::array{}}}};
            break;
        case auth_kind::kiosk: op["security"] = json::array{json::object{{"kioskToken", json::array{}}}}; break;
    }
    return op;
}

std::string lower(std::string_view m) {
    std::string s(m);
    for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    return s;
}

// The client portal, messaging and kiosk: their schemas and the two bearer schemes that
// are not staff sessions.
constexpr std::string_view portal_schemas_json = R"json({
  "PortalLoginRequest": {"type": "object", "additionalProperties": false, "required": ["agency", "username", "password"], "properties": {
    "agency": {"type": "string", "description": "The agency's slug"}, "username": {"type": "string", "description": "The portal username chosen at registration (case-insensitive)"},
    "password": {"type": "string", "format": "password"}}},
  "PortalAccountSummary": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "client_id": {"type": "string", "format": "uuid"}}},
  "PortalLoginResult": {"type": "object", "properties": {
    "token": {"type": "string", "description": "Portal bearer token: send as Authorization: Bearer <token> to /v1/portal/* only (absent for cookie sessions)"},
    "csrf_token": {"type": "string", "description": "Cookie sessions only: send as X-CSRF-Token on every unsafe request"},
    "expires_at": {"type": "string", "format": "date-time", "description": "The session ends then unless used (the agency's idle timeout from its last recorded activity)"},
    "portal_account": {"$ref": "#/components/schemas/PortalAccountSummary"}}},
  "PortalMe": {"type": "object", "properties": {
    "csrf_token": {"type": "string", "description": "When the portal session cookie authenticated the request: its CSRF token"},
    "client": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "first_name": {"type": "string"},
      "last_name": {"type": "string"}, "date_of_birth": {"type": "string", "format": "date"},
      "email": {"type": "string", "nullable": true}, "phone": {"type": "string", "nullable": true}}},
    "portal_account": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
      "created_at": {"type": "string", "format": "date-time"}, "last_login_at": {"type": "string", "format": "date-time", "nullable": true}}},
    "agency": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"},
      "name": {"type": "string"}, "messaging_enabled": {"type": "boolean"}}},
    "staff": {"type": "array", "description": "Active staff assigned to the client; messaging: a thread may be started with them",
      "items": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "first_name": {"type": "string"},
        "last_name": {"type": "string"}, "position": {"type": "string"}, "messaging": {"type": "boolean"}}}},
    "session": {"type": "object", "properties": {"expires_at": {"type": "string", "format": "date-time"}}}}},
  "Thread": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"},
    "staff_id": {"type": "string", "format": "uuid", "description": "The staff member the client talks with"},
    "staff_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}, "description": "Staff who wrote in it"},
    "started_at": {"type": "string", "format": "date-time"}, "last_message_at": {"type": "string", "format": "date-time"},
    "message_count": {"type": "integer"}}},
  "ThreadList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Thread"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "Message": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "thread_id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"},
    "sender_kind": {"type": "string", "enum": ["staff", "client"]},
    "sender_id": {"type": "string", "format": "uuid", "description": "Staff id, or the client's portal account id"},
    "body": {"type": "string"}, "sent_at": {"type": "string", "format": "date-time"}}},
  "MessageList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "ThreadWithMessages": {"allOf": [{"$ref": "#/components/schemas/Thread"}, {"type": "object", "properties": {
    "messages": {"type": "array", "items": {"$ref": "#/components/schemas/Message"}},
    "next_cursor": {"type": "string", "nullable": true, "description": "The next page of messages (limit, cursor)"}}}]},
  "PortalMessage": {"type": "object", "additionalProperties": false, "required": ["body"], "properties": {
    "thread_id": {"type": "string", "format": "uuid", "description": "One of your threads; or give to_staff_id to start one"},
    "to_staff_id": {"type": "string", "format": "uuid", "description": "A staff member assigned to you who uses messaging"},
    "body": {"type": "string", "minLength": 1, "maxLength": 10000}}},
  "StaffMessage": {"type": "object", "additionalProperties": false, "required": ["client_id", "body"], "properties": {
    "client_id": {"type": "string", "format": "uuid"},
    "thread_id": {"type": "string", "format": "uuid", "description": "One of the client's threads; absent = a new thread"},
    "body": {"type": "string", "minLength": 1, "maxLength": 10000}}},
  "MessageResult": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid", "description": "The client"}, "thread_id": {"type": "string", "format": "uuid"},
    "message_id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "NewKioskSession": {"type": "object", "additionalProperties": false, "required": ["client_id"], "properties": {
    "client_id": {"type": "string", "format": "uuid"},
    "form_id": {"type": "string", "description": "A blank form; exactly one of form_id and document_id"},
    "document_id": {"type": "string", "description": "An existing clinical document"},
    "appointment_id": {"type": "string", "description": "Only with form_id: the appointment the form is for"},
    "expires_in_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 60}}},
  "KioskSessionStarted": {"type": "object", "properties": {
    "kiosk_session_id": {"type": "string", "format": "uuid"},
    "token": {"type": "string", "description": "The kiosk's bearer token, shown this once"},
    "expires_at": {"type": "string", "format": "date-time"}, "id": {"type": "string", "format": "uuid", "description": "The client"},
    "version": {"type": "integer"}, "consistency_token": {"type": "string", "nullable": true}}},
  "KioskForm": {"type": "object", "properties": {
    "kiosk_session_id": {"type": "string", "format": "uuid"}, "form_id": {"type": "string", "nullable": true},
    "document_id": {"type": "string", "nullable": true}, "appointment_id": {"type": "string", "nullable": true},
    "expires_at": {"type": "string", "format": "date-time"},
    "client": {"type": "object", "properties": {"first_name": {"type": "string"}}}}},
  "KioskAnswers": {"type": "object", "additionalProperties": false, "required": ["answers"], "properties": {
    "answers": {"type": "object", "description": "The form's answers (at most 1 MiB as JSON)"}}},
  "KioskSession": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "client_id": {"type": "string", "format": "uuid"},
    "form_id": {"type": "string", "nullable": true}, "document_id": {"type": "string", "nullable": true},
    "appointment_id": {"type": "string", "nullable": true}, "started_by": {"type": "string", "format": "uuid"},
    "started_at": {"type": "string", "format": "date-time"}, "expires_at": {"type": "string", "format": "date-time"},
    "state": {"type": "string", "enum": ["active", "expired", "submitted"]}, "submitted": {"type": "boolean"},
    "submitted_at": {"type": "string", "format": "date-time", "nullable": true},
    "answers": {"type": "object", "nullable": true, "description": "Only for clinical.read holders"}}},
  "KioskSessionList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/KioskSession"}},
    "next_cursor": {"type": "string", "nullable": true}}}
})json";

void add_portal_components(json::object& components) {
    auto& schemas = components["schemas"].as_object();
    const json::value parsed = json::parse(portal_schemas_json);
    for (const auto& kv : parsed.as_object()) schemas[kv.key()] = kv.value();
    auto& schemes = components["securitySchemes"].as_object();
    schemes["portalSession"] = json::object{
        {"type", "http"},
        {"scheme", "bearer"},
        {"description", "The portal session token of POST /v1/portal/login (a client of the agency; opens only "
                        "/v1/portal/* and only that client's data; ends on logout or after the idle timeout)"}};
    schemes["kioskToken"] = json::object{
        {"type", "http"},
        {"scheme", "bearer"},
        {"description", "The token of POST /v1/kiosk/sessions (shown once): opens /v1/kiosk/form of that one "
                        "kiosk session, until it is submitted or expires"}};
}

}  // namespace

const std::string& openapi_document(const std::string& public_url) {
    // Process-wide config: built once with the first caller's public URL.
    static const std::string doc = [&] {
        json::object d;
        d["openapi"] = "3.0.3";
        d["info"] = json::object{
            {"title", "carelog API"},
            {"version", "1.0.0"},
            {"description",
             "Access and onboarding for behavioral-health agencies: event-sourced commands (Kafka) and read models. "
             "Errors are RFC 9457 application/problem+json."}};
        if (!public_url.empty()) d["servers"] = json::array{json::object{{"url", public_url}}};
        json::object paths;
        for (const auto& r : route_table()) {
            auto& item = paths[r.pattern];
            if (!item.is_object()) item = json::object{};
            item.as_object()[lower(r.method)] = operation(r);
        }
        d["paths"] = std::move(paths);
        json::object components;
        json::value schemas = json::parse(schemas_json);
        const json::value client_schemas = json::parse(client_schemas_json);
        for (const auto& kv : client_schemas.as_object()) schemas.as_object()[kv.key()] = kv.value();
        components["schemas"] = std::move(schemas);
        components["securitySchemes"] = json::object{
            {"operatorKey", json::object{{"type", "apiKey"}, {"in", "header"}, {"name", "X-Operator-Key"}}},
            {"bearer", json::object{{"type", "http"},
                                    {"scheme", "bearer"},
                                    {"description", "The session token of POST /v1/auth/login (opaque; ends on logout, "
                                                    "password change or after the agency's idle timeout)"}}}};
        add_portal_components(components);
        d["components"] = std::move(components);
        return json::serialize(d);
    }();
    return doc;
}

}  // namespace carelog::api::detail
