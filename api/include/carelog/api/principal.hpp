// Who is calling. Every handler takes one; the identity issue plugs real sessions in here.
#pragma once

#include <string>

namespace carelog::api {

struct principal {
    std::string agency_id;
    std::string staff_id;  // "operator" for the platform operator
    std::string role;      // org_admin | admin | biller | therapist | scheduler
    std::string staff_type;
    bool is_operator = false;
};

}  // namespace carelog::api
