"""What ops/schemathesis runs before schemathesis: the demo agency on a fresh carelogd, and in it
every record and session the generated requests need to get past "log in" and "not found".

  schemathesis-setup.py main   makes everything below and ST_RUN/main.toml, the main run's
                               configuration (and ST_RUN/state.json for the next step)
  schemathesis-setup.py last   logs in afresh (a session idle since the main run began would end
                               at once when a generated setting shortens the idle timeout) and
                               writes ST_RUN/last.toml: the run of the operations that end sessions
                               or change the agency's settings

Environment: ST_URL (carelogd), ST_OPERATOR_KEY, ST_MAIL (the SMTP sink's Maildir), ST_RUN.

Made here, through the API only:
  - the demo agency (as ops/run makes it) and a session of its administrator dadmin (the main
    run's, ended last by the generated logouts), who gets the client_portal and messaging
    permissions, with both modules switched on; changePassword's current_password is dadmin's;
  - a second organization administrator, ssettings: created with a temporary password, so its
    first login must choose a new one; then it enrols and confirms TOTP (computed here), so that
    no generated mfa_required_roles restricts its session in the last run, which changes settings;
  - staff members tjones (the target of /v1/staff/{id} edits), bsmith (of temporary passwords, TOTP
    resets, unlocks and session ends), cleaves (of deactivation) and dreset, whose e-mailed
    password-reset token confirmPasswordReset gets;
  - client Rosa Diaz (the target of /v1/clients/{id}/..., of kiosk sessions and staff messages),
    assigned to tjones and dadmin, with a message thread and two invitations (one to resend, one
    to revoke);
  - clients Pat and Lee, each invited and registered through the e-mailed link: Pat's portal
    session is the portal operations' (and its current_password Pat's; Pat's thread with dadmin is
    /v1/portal/threads/{id}); Lee's account is the target of the administrators' portal-account
    operations (which end its sessions); client Kim's e-mailed invitation token is
    registerPortalAccount's;
  - a kiosk session for Rosa: its token is the kiosk operations'.
Every generated X-Consistency-Token is one the projections applied: a made-up one names a
position the log may never reach, and the request waits 5 s for a 503.
"""
import base64
import hashlib
import hmac
import json
import mailbox
import os
import re
import struct
import sys
import time
import urllib.error
import urllib.request

URL = os.environ["ST_URL"]
OPERATOR_KEY = os.environ["ST_OPERATOR_KEY"]
MAIL = os.environ["ST_MAIL"]
RUN = os.environ["ST_RUN"]
ADMIN_PASSWORD = "Demo-Admin-Pass-1!"


def call(method, path, body=None, token=None, headers=None):
    h = {"Content-Type": "application/json"} if body is not None else {}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    req = urllib.request.Request(URL + path, method=method, headers=h,
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def must(what, expected, answer):
    status, body = answer
    if status != expected:
        sys.exit(f"ops/schemathesis: {what} answered {status}: {body}")
    return body


def totp(secret_b32, at=None):
    """RFC 6238: SHA-1, 6 digits, 30 s steps."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 15
    return "%06d" % ((struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF) % 1000000)


def login(username, password, new_password=None, path="/v1/auth/login", totp_secret=None):
    """A session token; a login that must first choose a new password chooses new_password."""
    for _ in range(140):
        body = {"agency": "demo", "username": username, "password": password}
        if totp_secret:
            body["totp"] = totp(totp_secret)
        status, body = call("POST", path, body)
        if status == 200:
            break
        time.sleep(0.25 if not totp_secret else 1)  # a TOTP code is good once: the next step's
    else:
        sys.exit(f"ops/schemathesis: logging in as {username} answered {status}: {body}")
    if body.get("password_change_required") or body.get("require_password_change"):
        if not new_password:
            sys.exit(f"ops/schemathesis: {username} must choose a new password first")
        change = "/v1/auth/password" if path == "/v1/auth/login" else "/v1/portal/password"
        must(f"{username} choosing a new password", 200, call("POST", change,
             {"current_password": password, "new_password": new_password}, body["token"]))
        return login(username, new_password, None, path)
    if body.get("mfa_enrollment_required"):
        sys.exit(f"ops/schemathesis: {username} must enrol TOTP first")
    return body["token"]


def mailed_token(email, link_path):
    """The token of the newest link to link_path in an e-mail to `email` (waits up to 20 s)."""
    for _ in range(80):
        token = None
        if os.path.isdir(os.path.join(MAIL, "new")):
            for msg in mailbox.Maildir(MAIL, create=False):
                if email not in (msg["To"] or ""):
                    continue
                part = msg if not msg.is_multipart() else msg.get_payload(0)
                text = (part.get_payload(decode=True) or b"").decode(errors="replace")
                m = re.search(re.escape(link_path) + r"\?token=([A-Za-z0-9._~-]+)", text)
                if m:
                    token = m.group(1)
        if token:
            return token
        time.sleep(0.25)
    sys.exit(f"ops/schemathesis: no e-mail to {email} with a link to {link_path}")


def invitation_token(admin, client_id, email):
    """Invites the client; the token of the e-mailed link."""
    must(f"inviting {email}", 201, call("POST", f"/v1/clients/{client_id}/portal/invitations", {}, admin))
    return mailed_token(email, "/portal/register")


def portal_account(admin, client_id, username, email):
    """Invites the client and registers with the e-mailed link; the portal account's id."""
    registered = must(f"registering {username}", 201, call("POST", "/v1/portal/register", {
        "token": invitation_token(admin, client_id, email), "username": username, "password": "Portal-Pass-1!x"}))
    return registered["portal_account_id"]


def q(v):
    """A TOML value: strings and lists as JSON writes them, a dict as an inline table."""
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {q(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def drawn(dictionary):
    """A body field drawn mostly from a dictionary of values that exist (ids, check-digit NPIs)."""
    return {"dictionary": dictionary, "probability": 0.9}


def ops(operation_ids, parameters=None, headers=None):
    lines = ["[[operations]]", "include-operation-id = " + q(operation_ids)]
    if parameters:
        lines.append("parameters = { " + ", ".join(f"{q(k)} = {q(v)}" for k, v in parameters.items()) + " }")
    if headers:
        lines.append("headers = { " + ", ".join(f"{q(k)} = {q(v)}" for k, v in headers.items()) + " }")
    return "\n".join(lines) + "\n"


def bearer(token):
    return {"Authorization": "Bearer " + token}


def setup_main():
    must("creating the demo agency", 201, call("POST", "/v1/agencies", {
        "name": "Demo Behavioral Health", "slug": "demo",
        "admin": {"first_name": "Dana", "last_name": "Admin", "email": "dana@demo.example", "password": ADMIN_PASSWORD}},
        headers={"X-Operator-Key": OPERATOR_KEY}))
    admin = login("dadmin", ADMIN_PASSWORD)
    me = must("reading the session", 200, call("GET", "/v1/auth/session", token=admin))["staff"]["id"]
    must("switching the portal and messaging on", 200, call("PATCH", "/v1/agency/settings",
         {"client_portal_enabled": True, "messaging_enabled": True}, admin))
    must("granting dadmin the modules", 200, call("PUT", f"/v1/staff/{me}/permissions",
         {"client_portal": True, "messaging": True}, admin))

    # The settings administrator: a forced first password change, then TOTP.
    must("adding ssettings", 201, call("POST", "/v1/staff", {
        "first_name": "Sam", "last_name": "Settings", "gender": "female", "position": "Director",
        "email": "sam@demo.example", "role": "org_admin", "type": "administration",
        "temporary_password": "Temporary-Pass-7#"}, admin))
    settings = login("ssettings", "Temporary-Pass-7#", "Settings-Pass-8#")
    enrolment = must("ssettings enrolling TOTP", 200, call("POST", "/v1/auth/mfa/enroll", None, settings))
    for attempt in range(3):
        status, body = call("POST", "/v1/auth/mfa/confirm", {"code": totp(enrolment["secret"])}, settings)
        if status == 200:
            break
        time.sleep(1 + attempt)  # a code of a step already used, or the step just turned
    else:
        sys.exit(f"ops/schemathesis: confirming TOTP answered {status}: {body}")

    location = must("adding a location", 201, call("POST", "/v1/locations", {"name": "Main Office", "address": "1 Main St"}, admin))
    program = must("adding a program", 201, call("POST", "/v1/programs", {"name": "Outpatient"}, admin))
    editable = must("adding tjones", 201, call("POST", "/v1/staff", {
        "first_name": "Todd", "last_name": "Jones", "gender": "male", "position": "Counselor",
        "email": "todd@demo.example", "role": "therapist", "type": "therapy_counseling",
        "location_ids": [location["id"]], "program_ids": [program["id"]]}, admin))["id"]
    recoverable = must("adding bsmith", 201, call("POST", "/v1/staff", {
        "first_name": "Bo", "last_name": "Smith", "gender": "male", "position": "Biller",
        "email": "bo@demo.example", "role": "biller", "type": "administration"}, admin))["id"]
    leaving = must("adding cleaves", 201, call("POST", "/v1/staff", {
        "first_name": "Cy", "last_name": "Leaves", "gender": "male", "position": "Scheduler",
        "email": "cy@demo.example", "role": "scheduler", "type": "administration"}, admin))["id"]
    must("adding dreset", 201, call("POST", "/v1/staff", {
        "first_name": "Dee", "last_name": "Reset", "gender": "female", "position": "Counselor",
        "email": "dee@demo.example", "role": "therapist", "type": "therapy_counseling",
        "require_password_change": False}, admin))
    must("dreset asking for a reset link", 202, call("POST", "/v1/auth/password-reset", {"agency": "demo", "username": "dreset"}))
    reset_token = mailed_token("dee@demo.example", "/reset")

    rosa = must("adding Rosa", 201, call("POST", "/v1/clients", {
        "first_name": "Rosa", "last_name": "Diaz", "date_of_birth": "1990-03-02", "email": "rosa@demo.example"}, admin))["id"]
    for staff_id in (editable, me):
        must("assigning staff to Rosa", 200, call("PUT", f"/v1/clients/{rosa}/staff/{staff_id}", None, admin))
    thread = must("writing to Rosa", 201, call("POST", "/v1/messages", {"client_id": rosa, "body": "Hello Rosa"}, admin))["thread_id"]
    resend = must("inviting Rosa", 201, call("POST", f"/v1/clients/{rosa}/portal/invitations", {}, admin))["invitation_id"]
    revoke = must("inviting Rosa again", 201, call("POST", f"/v1/clients/{rosa}/portal/invitations", {}, admin))["invitation_id"]
    kiosk = must("starting a kiosk session", 201, call("POST", "/v1/kiosk/sessions", {"client_id": rosa, "form_id": "intake"}, admin))

    pat = must("adding Pat", 201, call("POST", "/v1/clients", {
        "first_name": "Pat", "last_name": "Portal", "date_of_birth": "1985-07-14", "email": "pat@demo.example"}, admin))["id"]
    must("assigning dadmin to Pat", 200, call("PUT", f"/v1/clients/{pat}/staff/{me}", None, admin))
    portal_account(admin, pat, "pat.portal", "pat@demo.example")
    pat_token = login("pat.portal", "Portal-Pass-1!x", path="/v1/portal/login")
    pat_thread = must("writing to Pat", 201, call("POST", "/v1/messages", {"client_id": pat, "body": "Hello Pat"}, admin))["thread_id"]
    lee = must("adding Lee", 201, call("POST", "/v1/clients", {
        "first_name": "Lee", "last_name": "Portal", "date_of_birth": "1979-11-30", "email": "lee@demo.example"}, admin))["id"]
    lee_account = portal_account(admin, lee, "lee.portal", "lee@demo.example")
    kim = must("adding Kim", 201, call("POST", "/v1/clients", {
        "first_name": "Kim", "last_name": "Portal", "date_of_birth": "1992-02-29", "email": "kim@demo.example"}, admin))["id"]
    registration_token = invitation_token(admin, kim, "kim@demo.example")

    # A token every generated X-Consistency-Token takes: one the projections applied (a made-up one
    # names a position the log may never reach, and the request waits 5 s for a 503).
    token_answer = urllib.request.urlopen(urllib.request.Request(
        URL + "/v1/locations", method="POST", data=json.dumps({"name": "Annex"}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + admin}), timeout=30)
    consistency = token_answer.headers["X-Consistency-Token"]

    common = ("parameters = { " + q("X-Consistency-Token") + " = " + q(consistency) + " }\n"
              "cache = { enabled = false }\n")  # every run starts from its seed alone
    # What the document cannot say: NPIs whose check digit is right, threads that exist (and, in
    # ids.json for the hooks, which staff members, locations and programs exist).
    dictionaries = "dictionaries = " + q({"npis": {"values": ["1234567893", "1245319599", "1993999998"]},
        "pat_staff": {"values": [me]}, "pat_threads": {"values": [pat_thread]}, "rosa_threads": {"values": [thread]}}) + "\n"
    main = ("headers = " + "{ " + q("Authorization") + " = " + q("Bearer " + admin) + " }\n" + common + dictionaries + "\n" +
            ops(["createStaff"], {"body.npi": drawn("npis")}) +
            ops(["updateStaffProfile"], {"id": editable, "body.npi": drawn("npis")}) +
            ops(["setStaffLocations", "setStaffPrograms"], {"id": editable}) +
            ops(["createAgency"], headers={"X-Operator-Key": OPERATOR_KEY}) +
            ops(["getStaff", "assignRole", "setStaffType", "setStaffPermissions", "staffHistory"], {"id": editable}) +
            ops(["unlockStaff", "resetStaffMfa", "setStaffTemporaryPassword", "endStaffSessions"], {"id": recoverable}) +
            ops(["deactivateStaff"], {"id": leaving}) +
            ops(["changePassword"], {"body.current_password": ADMIN_PASSWORD}) +
            ops(["confirmPasswordReset"], {"body.token": reset_token}) +
            ops(["registerPortalAccount"], {"body.token": registration_token}) +
            ops(["getClient", "clientHistory", "sendPortalInvitation", "listPortalInvitations", "listClientKioskSessions"],
                {"id": rosa}) +
            ops(["assignClientStaff", "unassignClientStaff"], {"id": rosa, "staff_id": editable}) +
            ops(["startKioskSession"], {"body.client_id": rosa}) +
            ops(["sendMessage"], {"body.client_id": rosa, "body.thread_id": drawn("rosa_threads")}) +
            ops(["getMessageThread"], {"id": thread}) +
            ops(["resendPortalInvitation"], {"id": resend}) +
            ops(["revokePortalInvitation"], {"id": revoke}) +
            ops(["getPortalAccount", "unlockPortalAccount", "setPortalTemporaryPassword", "endPortalSessions",
                 "changePortalUsername"], {"id": lee_account}) +
            ops(["portalMe", "listPortalThreads"], headers=bearer(pat_token)) +
            ops(["sendPortalMessage"], {"body.thread_id": drawn("pat_threads"), "body.to_staff_id": drawn("pat_staff")},
                headers=bearer(pat_token)) +
            ops(["changePortalPassword"], {"body.current_password": "Portal-Pass-1!x"}, headers=bearer(pat_token)) +
            ops(["listPortalThreadMessages"], {"id": pat_thread}, headers=bearer(pat_token)) +
            ops(["getKioskForm", "submitKioskForm"], headers=bearer(kiosk["token"])))
    with open(os.path.join(RUN, "main.toml"), "w") as f:
        f.write(main)
    records = {"supervisor_id": me, "location_ids": location["id"], "program_ids": program["id"]}
    with open(os.path.join(RUN, "ids.json"), "w") as f:
        json.dump({"POST /v1/staff": records, "PATCH /v1/staff/{id}": {"supervisor_id": me},
                   "PUT /v1/staff/{id}/locations": records, "PUT /v1/staff/{id}/programs": records}, f)
    with open(os.path.join(RUN, "state.json"), "w") as f:
        json.dump({"totp_secret": enrolment["secret"], "consistency": consistency, "admin": admin, "pat": pat_token}, f)
    print("set up: demo agency, staff", editable, recoverable, "clients", rosa, pat, lee)


def setup_last():
    with open(os.path.join(RUN, "state.json")) as f:
        state = json.load(f)
    settings = login("ssettings", "Settings-Pass-8#", totp_secret=state["totp_secret"])
    common = ("parameters = { " + q("X-Consistency-Token") + " = " + q(state["consistency"]) + " }\n"
              "cache = { enabled = false }\n")
    last = ("headers = " + "{ " + q("Authorization") + " = " + q("Bearer " + settings) + " }\n" + common + "\n" +
            ops(["logout"], headers=bearer(state["admin"])) +
            ops(["portalLogout"], headers=bearer(state["pat"])))
    with open(os.path.join(RUN, "last.toml"), "w") as f:
        f.write(last)


if __name__ == "__main__":
    {"main": setup_main, "last": setup_last}[sys.argv[1]]()
