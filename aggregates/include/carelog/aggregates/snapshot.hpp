// agency_state <-> JSON (the auditors' rebuild prints it), and putting aggregates back into a state
// from a snapshot that stores each aggregate apart (the writer's binary snapshots).
#pragma once

#include <boost/json/value.hpp>

#include "carelog/aggregates/agency.hpp"

namespace carelog::aggregates {

boost::json::value to_json(const agency_state& s);
result<agency_state> agency_state_from_json(const boost::json::value& v);

// Puts one staff member or client back into `s` with the agency's indexes derived from it
// (usernames, session owners; portal usernames, accounts, sessions, invitations, tokens, threads,
// kiosks, external ids), so a snapshot stores aggregates only and no index can disagree with them.
void restore(agency_state& s, staff_state st);
void restore(agency_state& s, client_state c);
// The same without holding the aggregate in memory: only the indexes and that it exists. The
// writer reads it back from its snapshot when a command or an event needs it (aggregate_map.hpp).
void restore_indexes(agency_state& s, const staff_state& st);
void restore_indexes(agency_state& s, const client_state& c);

}  // namespace carelog::aggregates
