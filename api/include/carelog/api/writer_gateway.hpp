// The handlers' command_bus over the write engine: submits to writer::command_bus, suspends the
// request's fiber until the engine answers, and shapes the answer's body from its events.
#pragma once

#include <boost/json/object.hpp>

#include "carelog/api/command_bus.hpp"
#include "carelog/writer/command_bus.hpp"

namespace carelog::api {

class writer_gateway final : public command_bus {
public:
    explicit writer_gateway(writer::command_bus& engine) : engine_(engine) {}
    result<command_result> submit(const std::string& agency_id, const command_meta& meta,
                                  const aggregates::command& cmd) override;
    result<std::vector<result<command_result>>> submit_batch(const std::string& agency_id, const command_meta& meta,
                                                             const std::vector<aggregates::command>& cmds,
                                                             bool dry_run) override;
    std::string committed_position(const std::string& agency_id) const override;

private:
    writer::command_bus& engine_;
};

// A command's response fields from the events it appended:
//   create_agency: {agency_id, slug, admin:{staff_id, username}}; create_staff: {id, username};
//   invitations: {invitation_id, email?, expires_at}; registration: {portal_account_id, username};
//   logins: {login|portal_login: succeeded|failed, ...}; messages: {thread_id, message_id};
//   kiosk: {kiosk_session_id, expires_at}; every other command: {id}.
boost::json::object body_of(const std::vector<events::envelope>& evs, const std::string& aggregate_id);

}  // namespace carelog::api
