// GET /openapi.json: the OpenAPI 3.0 document, generated from the route table (paths, methods,
// auth, parameters, success status) plus the hand-written schemas of bodies below. A test checks
// that every route of the table is in it.
#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

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
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text"},
    "slug": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$",
      "description": "3 to 63 lower-case letters, digits or hyphens, starting and ending with a letter or digit"},
    "admin": {"type": "object", "additionalProperties": false, "required": ["first_name", "last_name", "email", "password"],
      "properties": {"first_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$name", "example": "Dana"},
        "last_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$name", "example": "Admin"},
        "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": "$email"},
        "password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "example": "Correct-Horse-9-Battery",
          "description": "The default policy: 12 to 256 characters with an upper-case letter, a lower-case letter, a digit and a symbol, not containing the admin's username"}}}}},
  "AgencyCreated": {"type": "object", "properties": {
    "agency_id": {"type": "string", "format": "uuid"}, "slug": {"type": "string"},
    "admin": {"type": "object", "properties": {"staff_id": {"type": "string", "format": "uuid"}, "username": {"type": "string"}}},
    "version": {"type": "integer"}, "consistency_token": {"type": "string", "nullable": true}}},
  "PasswordPolicy": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "min_length": {"type": "integer", "minimum": 8, "maximum": 128}, "require_upper": {"type": "boolean"},
    "require_lower": {"type": "boolean"}, "require_digit": {"type": "boolean"}, "require_symbol": {"type": "boolean"},
    "disallow_username": {"type": "boolean"}}},
  "Lockout": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "threshold": {"type": "integer", "minimum": 1, "maximum": 100}, "minutes": {"type": "integer", "minimum": 1, "maximum": 10080}}},
  "AgencySettings": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "slug": {"type": "string"}, "version": {"type": "integer"},
    "client_portal_enabled": {"type": "boolean"}, "messaging_enabled": {"type": "boolean"},
    "password_policy": {"$ref": "#/components/schemas/PasswordPolicy"}, "lockout": {"$ref": "#/components/schemas/Lockout"},
    "session_idle_minutes": {"type": "integer"}, "password_expiry_days": {"type": "integer", "description": "0 = never"},
    "mfa_required_roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
    "services": {"type": "array", "items": {"type": "string"}}}},
  "SettingsPatch": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text"},
    "client_portal_enabled": {"type": "boolean"}, "messaging_enabled": {"type": "boolean"},
    "password_policy": {"$ref": "#/components/schemas/PasswordPolicy"}, "lockout": {"$ref": "#/components/schemas/Lockout"},
    "session_idle_minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
    "password_expiry_days": {"type": "integer", "minimum": 0, "maximum": 3650},
    "mfa_required_roles": {"type": "array", "items": {"$ref": "#/components/schemas/Role"}},
    "services": {"type": "array", "maxItems": 500, "description": "Kept in this order; repeats (case-insensitive) are dropped",
      "items": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text"}}}},
  "CommandResult": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true, "description": "null when nothing changed"}}},
  "NewLocation": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text", "description": "Unique in the agency (case-insensitive)"},
    "address": {"type": "string", "maxLength": 500, "pattern": "$text_optional"}}},
  "Location": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "address": {"type": "string"}}},
  "LocationList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Location"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "NewProgram": {"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text", "description": "Unique in the agency (case-insensitive)"}}},
  "Program": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}}},
  "ProgramList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Program"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "Role": {"type": "string", "enum": ["org_admin", "admin", "biller", "therapist", "scheduler"]},
  "StaffType": {"type": "string", "enum": ["therapy_counseling", "administration", "administration_time_tracking"]},
  "Phone": {"type": "object", "additionalProperties": false, "required": ["kind", "number"], "properties": {
    "kind": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "$text"},
    "number": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "$phone_text", "description": "Free text with at least one digit"}}},
  "NewStaff": {"type": "object", "additionalProperties": false,
    "required": ["first_name", "last_name", "gender", "position", "email", "role", "type"], "properties": {
    "first_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$name", "example": "Avery", "description": "With a Latin letter or digit (the username is formed from it)"},
    "middle_name": {"type": "string", "maxLength": 100, "pattern": "$text_optional"},
    "last_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$name", "example": "Quinn", "description": "With a Latin letter or digit (the username is formed from it)"},
    "gender": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "$text"},
    "position": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text"},
    "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": "$email"},
    "role": {"$ref": "#/components/schemas/Role"}, "type": {"$ref": "#/components/schemas/StaffType"},
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid", "pattern": "$uuid"}, "description": "Locations of this agency"},
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid", "pattern": "$uuid"}, "description": "Programs of this agency"},
    "username": {"type": "string", "maxLength": 300, "pattern": "$staff_username", "example": "aquinn", "description": "Only what the rule gives (case-insensitive): the first letter of the first name [+ the middle initial] + the last name, each folded to Latin letters and digits; absent: the rule chooses"},
    "temporary_password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "example": "Correct-Horse-9-Battery", "description": "Must satisfy the agency's password policy (the pattern is the default policy's) and not contain the username; generated and returned once when absent"},
    "require_password_change": {"type": "boolean", "default": true},
    "hire_date": {"type": "string", "format": "date", "pattern": "$date", "description": "YYYY-MM-DD, 1900 or later"},
    "phones": {"type": "array", "maxItems": 10, "items": {"$ref": "#/components/schemas/Phone"}},
    "npi": {"type": "string", "pattern": "^[12][0-9]{9}$", "example": "1234567893", "description": "10 digits whose last is the Luhn check digit (prefix 80840)"},
    "supervisor_id": {"type": "string", "format": "uuid", "pattern": "$uuid", "description": "An active staff member of this agency, not the new one"}}},
  "StaffCreated": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "username": {"type": "string"}, "version": {"type": "integer"},
    "temporary_password": {"type": "string", "description": "Only when generated by the server; shown this once"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "Staff": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid"}, "username": {"type": "string"},
    "first_name": {"type": "string"}, "middle_name": {"type": "string", "nullable": true}, "last_name": {"type": "string"},
    "gender": {"type": "string"}, "position": {"type": "string"}, "email": {"type": "string"},
    "role": {"$ref": "#/components/schemas/Role"}, "type": {"$ref": "#/components/schemas/StaffType"},
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
    "permissions": {"type": "object", "properties": {"client_portal": {"type": "boolean"}, "messaging": {"type": "boolean"}}},
    "active": {"type": "boolean"}, "version": {"type": "integer"}, "require_password_change": {"type": "boolean"},
    "hire_date": {"type": "string", "format": "date", "nullable": true},
    "phones": {"type": "array", "items": {"type": "object", "properties": {"kind": {"type": "string"}, "number": {"type": "string"}}}},
    "npi": {"type": "string", "nullable": true}, "supervisor_id": {"type": "string", "format": "uuid", "nullable": true},
    "created_at": {"type": "string", "format": "date-time"}, "updated_at": {"type": "string", "format": "date-time"},
    "deactivated_at": {"type": "string", "format": "date-time", "nullable": true},
    "locked": {"type": "boolean", "description": "Only for staff.lock_state holders (administrators)"},
    "locked_until": {"type": "string", "format": "date-time", "nullable": true, "description": "Administrators only; null = until an administrator unlocks"},
    "failed_attempts": {"type": "integer", "description": "Administrators only: consecutive failed logins"},
    "mfa_enrolled": {"type": "boolean", "description": "Administrators only"}}},
  "StaffList": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Staff"}},
    "next_cursor": {"type": "string", "nullable": true}}},
  "StaffProfilePatch": {"type": "object", "additionalProperties": false, "minProperties": 1,
    "description": "Present fields change; null or \"\" clears middle_name, hire_date, npi, supervisor_id; null clears phones",
    "properties": {
    "first_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$text"},
    "middle_name": {"type": "string", "nullable": true, "maxLength": 100, "pattern": "$text_optional"},
    "last_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$text"},
    "gender": {"type": "string", "minLength": 1, "maxLength": 50, "pattern": "$text"},
    "position": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text"},
    "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": "$email"},
    "hire_date": {"type": "string", "nullable": true, "pattern": "$date_or_empty", "description": "YYYY-MM-DD, 1900 or later; \"\" or null clears it"},
    "phones": {"type": "array", "nullable": true, "maxItems": 10, "items": {"$ref": "#/components/schemas/Phone"}},
    "npi": {"type": "string", "nullable": true, "pattern": "^([12][0-9]{9})?$", "example": "1234567893", "description": "10 digits whose last is the Luhn check digit; \"\" or null clears it"},
    "supervisor_id": {"type": "string", "nullable": true, "pattern": "$uuid_or_empty", "description": "An active staff member of this agency other than this one; \"\" or null clears it"}}},
  "RoleBody": {"type": "object", "additionalProperties": false, "required": ["role"], "properties": {"role": {"$ref": "#/components/schemas/Role"}}},
  "TypeBody": {"type": "object", "additionalProperties": false, "required": ["type"], "properties": {"type": {"$ref": "#/components/schemas/StaffType"}}},
  "LocationIdsBody": {"type": "object", "additionalProperties": false, "required": ["location_ids"], "properties": {
    "location_ids": {"type": "array", "items": {"type": "string", "format": "uuid", "pattern": "$uuid"}, "description": "Locations of this agency; [] clears"}}},
  "ProgramIdsBody": {"type": "object", "additionalProperties": false, "required": ["program_ids"], "properties": {
    "program_ids": {"type": "array", "items": {"type": "string", "format": "uuid", "pattern": "$uuid"}, "description": "Programs of this agency; [] clears"}}},
  "PermissionsBody": {"type": "object", "additionalProperties": false, "minProperties": 1, "properties": {
    "client_portal": {"type": "boolean"}, "messaging": {"type": "boolean"}}},
  "DeactivateBody": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string", "maxLength": 500, "pattern": "$text_optional"}}},
  "RecoveryBody": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string", "maxLength": 500, "description": "why (written to the server log with both staff ids)"}}},
  "TemporaryPasswordBody": {"type": "object", "additionalProperties": false, "properties": {"temporary_password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "description": "must meet the agency's password policy (the pattern is the default policy's) and not contain the username; generated (and answered once) when absent"}, "reason": {"type": "string", "maxLength": 500}}},
  "PortalTemporaryPassword": {"type": "object", "additionalProperties": false, "required": ["reason"], "properties": {"temporary_password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "description": "must meet the agency's password policy (the pattern is the default policy's) and not contain the portal username; generated (and answered once) when absent"}, "reason": {"type": "string", "minLength": 1, "maxLength": 500, "description": "why the client gets a temporary password (kept in the event)"}}},
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
    "current_password": {"type": "string", "format": "password"},
    "new_password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "description": "Must satisfy the agency's password policy (the pattern is the default policy's), not contain the username and differ from the current one"}}},
  "PasswordResetRequest": {"type": "object", "additionalProperties": false, "required": ["agency", "username"], "properties": {
    "agency": {"type": "string", "description": "The agency's slug"}, "username": {"type": "string"}}},
  "PasswordResetConfirm": {"type": "object", "additionalProperties": false, "required": ["token", "new_password"], "properties": {
    "token": {"type": "string", "description": "The token of the reset link"},
    "new_password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "description": "Must satisfy the agency's password policy (the pattern is the default policy's), not contain the username and differ from the current one"}}},
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
    "properties": {"first_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$text"},
      "last_name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "$text"},
      "date_of_birth": {"type": "string", "format": "date", "pattern": "$birth_date", "description": "YYYY-MM-DD, 1900 or later, not in the future (the pattern stops at the last whole year before this server started)"},
      "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": "$email", "description": "Optional; never unique"},
      "phone": {"type": "string", "maxLength": 32, "pattern": "$phone", "description": "Optional; 7 to 15 digits, with spaces, '-', '.', '(', ')' and a leading '+'"},
      "external_id": {"type": "string", "maxLength": 100, "pattern": "$text_optional", "description": "Optional; unique per agency (a repeated import is refused row by row)"}}},
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
  "ClientsCsv": {"type": "string", "pattern": "$clients_csv", "description": "RFC 4180 CSV: a header naming first_name, last_name, date_of_birth and any of email, phone, external_id (any order, case-insensitive; the pattern shows one order), then one client per record (a bad record is a failed row of the report)"},
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
    "email": {"type": "string", "format": "email", "maxLength": 254, "pattern": "$email", "description": "Default: the client's e-mail (then the client must have one)"},
    "expires_at": {"type": "string", "format": "date-time", "description": "In the future and at most 720 hours (30 days) away; default: 72 hours from now"}}},
  "InvitationResend": {"type": "object", "additionalProperties": false, "properties": {
    "expires_at": {"type": "string", "format": "date-time", "description": "In the future and at most 720 hours (30 days) away; default: 72 hours from now"}}},
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
    "password": {"type": "string", "format": "password", "minLength": 12, "maxLength": 256, "pattern": "$password", "description": "The agency's password policy applies (the pattern is the default policy's); not containing the username"}}},
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

// The patterns the schemas above name as "$name": each is what the server's own check accepts
// (aggregates/src/rules.cpp, clients.cpp, staff.cpp; api/src/password_policy.cpp), written out once.
// Display text is check_text's: ' ', tab, CR and LF around it are trimmed, the rest holds no
// control character (C0, DEL, C1), and a required one is not blank; maxLength counts what is sent.
constexpr std::string_view text_char = R"([^\u0000-\u001f\u007f-\u009f])";       // no control character
constexpr std::string_view edge_char = R"([^\u0000-\u0020\u007f-\u009f])";       // nor a space
constexpr std::string_view trimmed = R"([\t\n\r ]*)";
// An e-mail address as is_valid_email takes it: one '@', a local part of 1 to 64 characters, a
// domain of two or more dot-separated labels, no spaces, controls or ,;<>"()[]\ anywhere.
constexpr std::string_view email_char = R"([^@\u0000-\u0020\u007f-\u009f,;<>"()\[\]\\])";
constexpr std::string_view uuid_pattern = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
constexpr std::string_view month_day = "-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";

// Years from 1900 through `last` (2000..2099) as a regular expression.
std::string years_through(int last) {
    const int tens = last / 10 % 10, ones = last % 10;
    std::string p = "(19[0-9]{2}";
    if (tens > 0) p += "|20[0-" + std::to_string(tens - 1) + "][0-9]";
    return p + "|20" + std::to_string(tens) + "[0-" + std::to_string(ones) + "])";
}

std::string pattern_named(std::string_view name) {
    const std::string text(text_char), edge(edge_char), ws(trimmed), mail(email_char), uuid(uuid_pattern), md(month_day);
    const std::string mail_label = mail.substr(0, mail.size() - 1) + ".]";  // and no dot
    if (name == "text") return "^" + ws + text + "*" + edge + ws + "$";
    if (name == "text_optional") return "^" + ws + "(" + text + "*" + edge + ")?" + ws + "$";
    // A name the username is formed from: a Latin letter or digit in it (accented letters that fold
    // to one count too on the server; the pattern asks for the letter itself).
    if (name == "name") return "^" + ws + text + "*[A-Za-z0-9](" + text + "*" + edge + ")?" + ws + "$";
    if (name == "phone_text") return "^" + ws + text + "*[0-9](" + text + "*" + edge + ")?" + ws + "$";
    if (name == "not_blank") return R"(^[\s\S]*[^\t\n\r ][\s\S]*$)";
    if (name == "email") return "^" + mail + "{1,64}@" + mail_label + "+(\\." + mail_label + "+)+$";
    if (name == "uuid") return "^" + uuid + "$";
    if (name == "uuid_or_empty") return "^(" + uuid + ")?$";
    if (name == "date") return "^(19[0-9]{2}|[2-9][0-9]{3})" + md + "$";
    if (name == "date_or_empty") return "^((19[0-9]{2}|[2-9][0-9]{3})" + md + ")?$";
    if (name == "birth_date") {
        // Not in the future: up to the last whole year, as of when this document was made.
        const auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
        const int year = static_cast<int>(std::chrono::year_month_day(today).year());
        return "^" + years_through(std::clamp(year - 1, 2000, 2099)) + md + "$";
    }
    // The default password policy: an upper-case letter, a lower-case letter, a digit and a symbol
    // (anything else, non-ASCII included); the length is minLength/maxLength.
    if (name == "password") return R"(^(?=[\s\S]*[A-Z])(?=[\s\S]*[a-z])(?=[\s\S]*[0-9])(?=[\s\S]*[^A-Za-z0-9])[\s\S]*$)";
    // What client phones may look like (is_valid_phone): 7 to 15 digits among spaces, '-', '.',
    // '(' and ')', and one leading '+'.
    if (name == "phone") return R"(^(?=(?:[^0-9]*[0-9]){7,15}[^0-9]*$)\+?[0-9 ().-]+$)";
    // A username the rule could give: the first name's initial, maybe the middle initial, the last
    // name's letters and digits with single inner hyphens.
    if (name == "staff_username") return R"(^[A-Za-z0-9]{2}[A-Za-z0-9]*(-[A-Za-z0-9]+)*$)";
    if (name == "clients_csv")
        return R"(^(\r?\n)*first_name,last_name,date_of_birth(,email)?(,phone)?(,external_id)?(\r?\n[\s\S]*)?$)";
    throw std::logic_error("openapi: no pattern named " + std::string(name));
}

// Replaces every "pattern": "$name" in `v` by the pattern of that name.
void resolve_patterns(json::value& v) {
    if (v.is_array()) {
        for (auto& item : v.as_array()) resolve_patterns(item);
        return;
    }
    if (!v.is_object()) return;
    for (auto& kv : v.as_object()) {
        if (kv.key() == "pattern" && kv.value().is_string() && kv.value().as_string().starts_with("$")) {
            std::string_view name(kv.value().as_string());
            kv.value() = pattern_named(name.substr(1));
        } else {
            resolve_patterns(kv.value());
        }
    }
}

json::object query_param(std::string_view operation, std::string_view name) {
    json::object schema;
    std::string description;
    if (operation == "auditEvents" && name != "limit" && name != "cursor") {
        if (name == "subject_id") {
            schema = {{"type", "string"}, {"format", "uuid"}, {"pattern", "$uuid"}};
            description = "The client or staff member the entries are about (a change's aggregate, a view's subject)";
        } else if (name == "actor_id") {
            schema = {{"type", "string"}, {"minLength", 1}, {"maxLength", 64}};
            description = "Who acted or read: a staff id, portal account id, kiosk session id, operator or system";
        } else if (name == "type") {
            json::array types;
            for (const char* t : audit_event_types()) types.emplace_back(t);
            schema = {{"type", "string"}, {"enum", std::move(types)}};
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
    else if (name == "location_id" || name == "program_id" || name == "client_id")
        schema = {{"type", "string"}, {"format", "uuid"}, {"pattern", "$uuid"}};
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

json::object header_param(std::string_view name, std::string_view description, json::object schema) {
    return {{"name", name}, {"in", "header"}, {"required", false}, {"description", description},
            {"schema", std::move(schema)}};
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
                                      {"schema", json::object{{"type", "string"}, {"format", "uuid"}, {"pattern", "$uuid"}}}});
    }
    for (std::size_t i = 0; i < r.query.size();) {
        auto j = r.query.find(',', i);
        if (j == std::string_view::npos) j = r.query.size();
        params.push_back(query_param(r.operation_id, r.query.substr(i, j - i)));
        i = j + 1;
    }
    if (r.auth == auth_kind::session || r.auth == auth_kind::portal_session || r.auth == auth_kind::kiosk)
        params.push_back(header_param("X-Consistency-Token",
                                      "The consistency_token (X-Consistency-Token) of an earlier answer: answer only once the "
                                      "projections applied that command (waits up to 5 s, then 503)",
                                      {{"type", "string"}, {"pattern", "^[0-9]+-[0-9]+$"}, {"maxLength", 512}}));
    if (r.command)
        params.push_back(header_param("Idempotency-Key",
                                      "Up to 200 printable ASCII characters; the same key with the same route and body returns the first result, with another route or body 422",
                                      {{"type", "string"}, {"pattern", "^[ -~]{1,200}$"}}));
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
        if (r.operation_id == "auditEvents")  // format=csv
            ok["content"].as_object()["text/csv"] = json::object{
                {"schema", json::object{{"type", "string"}, {"description", "RFC 4180, a header row first"}}}};
    }
    if (r.command) {
        json::object h{{"X-Consistency-Token", json::object{{"schema", json::object{{"type", "string"}, {"pattern", "^[0-9]+-[0-9]+$"}}}}},
                       {"Idempotent-Replayed", json::object{{"schema", json::object{{"type", "string"}, {"enum", json::array{"true"}}}}}}};
        ok["headers"] = std::move(h);
    }
    responses[std::to_string(r.success_status)] = std::move(ok);
    if (r.pattern == "/readyz")
        responses["503"] = json::object{
            {"description", "Projections are still catching up"},
            {"headers", json::object{{"Retry-After", json::object{{"schema", json::object{{"type", "string"}}}}}}},
            {"content", json::object{{"application/json",
                                      json::object{{"schema", json::object{{"$ref", "#/components/schemas/Health"}}}}}}}};
    if (!r.permission.empty()) {
        op["x-permission"] = r.permission;
        op["description"] = "Needs the permission `" + std::string(r.permission) +
                            "`. A session that must first change its password or enrol TOTP gets 403 for anything "
                            "else.";
    }
    auto status = [&](errc e) { return std::to_string(problem_for(e).status); };
    // A JSON body (or a command's optional one) is parsed: 400 when it is not JSON, 415 when it is
    // not declared as such, 413 past the body limit, 422 for its fields.
    const bool reads_body = !r.request_schema.empty() || r.command;
    if (reads_body) {
        responses[status(errc::malformed)] = problem_ref("The body is not a JSON object");
        responses[status(errc::validation)] = problem_ref("Invalid fields");
        responses[status(errc::too_large)] =
            problem_ref(r.pattern == "/v1/clients/import" ? "Body over 16 MiB" : "Body over 1 MiB");
        responses[std::to_string(problem_for(http_problem::unsupported_media_type).status)] =
            problem_ref(r.request_schema == "ClientsCsv" ? "Content-Type is not text/csv" : "Content-Type is not application/json");
    }
    if (r.pattern == "/v1/auth/login" || r.pattern == "/v1/portal/login") {
        responses["401"] = problem_ref("invalid credentials (the same answer for every refusal)");
        responses["422"] = problem_ref("Missing or mistyped fields");
    }
    if (r.pattern.starts_with("/v1/auth/password-reset") || r.pattern.starts_with("/v1/portal/password-reset"))
        responses["422"] = problem_ref("Invalid fields or reset token");
    if (r.auth == auth_kind::none) {
        // Every route without credentials is limited per address (and login per account).
        json::object limited = problem_ref("Too many requests from this address (or logins of this account); retry after Retry-After seconds");
        limited["headers"] = json::object{
            {"Retry-After", json::object{{"schema", json::object{{"type", "string"}, {"pattern", "^[0-9]+$"}}}}}};
        responses["429"] = std::move(limited);
        // Logins and resets check passwords under a bound on concurrent checks; commands need Kafka.
        if (r.command || r.pattern.ends_with("/login") || r.pattern.ends_with("/password-reset/confirm"))
            responses[status(errc::unavailable)] = problem_ref("Too many password checks at once, or Kafka not available in time; nothing accepted");
    }
    if (r.auth != auth_kind::none) {
        responses[status(errc::malformed)] = problem_ref("Malformed request or consistency token");
        responses[status(errc::unauthenticated)] = problem_ref("Missing or wrong credentials, or the session ended");
        responses[status(errc::forbidden)] = problem_ref("The role does not allow this, or a password change / TOTP enrolment comes first");
        responses[status(errc::not_found)] = problem_ref("No such agency or resource (also another agency's)");
        responses[status(errc::validation)] = problem_ref("Invalid fields or parameters");
        responses[status(errc::unavailable)] = problem_ref("Kafka or the projections not available in time; nothing accepted");
    }
    if (r.command) responses[status(errc::conflict)] = problem_ref("An invariant would break");
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
    "thread_id": {"type": "string", "format": "uuid", "pattern": "$uuid", "description": "One of your threads; or give to_staff_id to start one"},
    "to_staff_id": {"type": "string", "format": "uuid", "pattern": "$uuid", "description": "A staff member assigned to you who uses messaging"},
    "body": {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": "$not_blank"}},
    "oneOf": [{"required": ["thread_id"]}, {"required": ["to_staff_id"]}]},
  "StaffMessage": {"type": "object", "additionalProperties": false, "required": ["client_id", "body"], "properties": {
    "client_id": {"type": "string", "format": "uuid", "pattern": "$uuid"},
    "thread_id": {"type": "string", "format": "uuid", "pattern": "$uuid", "description": "One of the client's threads; absent = a new thread"},
    "body": {"type": "string", "minLength": 1, "maxLength": 10000, "pattern": "$not_blank"}}},
  "MessageResult": {"type": "object", "properties": {
    "id": {"type": "string", "format": "uuid", "description": "The client"}, "thread_id": {"type": "string", "format": "uuid"},
    "message_id": {"type": "string", "format": "uuid"}, "version": {"type": "integer"},
    "consistency_token": {"type": "string", "nullable": true}}},
  "NewKioskSession": {"type": "object", "additionalProperties": false, "required": ["client_id"], "properties": {
    "client_id": {"type": "string", "format": "uuid", "pattern": "$uuid"},
    "form_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text_optional", "description": "A blank form; exactly one of form_id and document_id"},
    "document_id": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "$text_optional", "description": "An existing clinical document"},
    "appointment_id": {"type": "string", "maxLength": 200, "pattern": "$text_optional", "description": "Only with form_id: the appointment the form is for"},
    "expires_in_minutes": {"type": "integer", "minimum": 1, "maximum": 1440, "default": 60}},
    "oneOf": [{"required": ["form_id"]}, {"required": ["document_id"]}],
    "not": {"required": ["document_id", "appointment_id"]}},
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
        json::value whole(std::move(d));
        resolve_patterns(whole);
        return json::serialize(whole);
    }();
    return doc;
}

}  // namespace carelog::api::detail
