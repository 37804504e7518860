// agency_state <-> JSON, for the writer's local snapshots (so a restart replays only the tail).
#pragma once

#include <boost/json/value.hpp>

#include "carelog/aggregates/agency.hpp"

namespace carelog::aggregates {

boost::json::value to_json(const agency_state& s);
result<agency_state> agency_state_from_json(const boost::json::value& v);

}  // namespace carelog::aggregates
