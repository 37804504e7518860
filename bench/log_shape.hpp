// The log that carelog-loggen writes and carelog-applybench applies: agencies, each with its
// org_admin, `staff` more staff members, then clients, every agency's events a correct chain
// (sequence, prev_hash, hash) in the partition murmur2(agency id) % partitions puts it, exactly as
// carelogd's writer would have written them.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "carelog/events/envelope_codec.hpp"
#include "carelog/kafka/kafka.hpp"

namespace carelog::bench {

inline std::string uuid_of(std::uint64_t kind, std::uint64_t n) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%08llx-0000-4000-8000-%012llx", static_cast<unsigned long long>(kind),
                  static_cast<unsigned long long>(n));
    return buf;
}

struct log_shape {
    std::uint64_t events = 1'000'000;  // in all
    int agencies = 100;
    std::uint64_t staff = 0;  // besides each agency's org_admin, spread over the agencies
    int partitions = 12;
};

// Calls emit(partition, agency id, event type, envelope bytes) for every event, in log order.
inline void generate(const log_shape& shape,
                     const std::function<void(int, const std::string&, const std::string&,
                                              const std::vector<std::uint8_t>&)>& emit) {
    struct agency {
        std::string id;
        std::uint64_t sequence = 0;
        sha256_digest last{};
        int partition = 0;
    };
    const micros t0 = 1'790'000'000'000'000;  // 2026-09
    std::vector<agency> agencies;
    for (int i = 0; i < shape.agencies; ++i) {
        agency a;
        a.id = uuid_of(0xa, static_cast<std::uint64_t>(i));
        a.partition = kafka::partition_for(a.id, shape.partitions);
        agencies.push_back(std::move(a));
    }
    std::uint64_t n = 0;
    auto add = [&](agency& a, const std::string& aggregate, events::payload p) {
        events::envelope e;
        e.event_id = uuid_of(0xe, n);
        e.agency_id = a.id;
        e.aggregate_type = std::string(events::aggregate_type_of(p));
        e.aggregate_id = aggregate;
        e.aggregate_version = 1;
        e.sequence = ++a.sequence;
        e.occurred_at = t0 + static_cast<micros>(n) * 1000;
        e.actor_id = "operator";
        e.command_id = uuid_of(0xc, n);
        e.correlation_id = e.command_id;
        e.causation_id = e.command_id;
        e.prev_hash = a.last;
        e.data = std::move(p);
        auto bytes = events::encode(e);
        a.last = e.hash;
        emit(a.partition, a.id, std::string(events::event_type_name(e.data)), bytes);
        ++n;
    };
    auto staff_member = [](std::uint64_t i, const char* role, const char* type) {
        events::StaffCreated s;
        s.first_name = i == 0 ? "Ada" : "Sam";
        s.last_name = i == 0 ? "Admin" : "Staff" + std::to_string(i);
        s.gender = "female";
        s.position = i == 0 ? "Administrator" : "Therapist";
        s.email = "staff" + std::to_string(i) + "@example.org";
        s.username = i == 0 ? "aadmin" : "staff" + std::to_string(i);
        s.role = role;
        s.staff_type = type;
        s.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
        s.require_password_change = true;
        return s;
    };
    for (auto& a : agencies) {
        if (n >= shape.events) return;
        const std::string name = "Agency " + a.id.substr(0, 8);
        add(a, a.id, events::AgencyCreated{name, "gen-" + a.id.substr(0, 8) + "-" + std::to_string(n),
                                           events::default_settings(name)});
        if (n >= shape.events) return;
        add(a, uuid_of(0x5, n), staff_member(0, "org_admin", "administration"));
    }
    for (std::uint64_t i = 1; i <= shape.staff && n < shape.events; ++i)
        add(agencies[i % agencies.size()], uuid_of(0x5, n), staff_member(i, "therapist", "therapy_counseling"));
    static const char* firsts[] = {"Ann", "Bo", "Cruz", "Dee", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo"};
    static const char* lasts[] = {"Lee", "Ng", "Ortiz", "Park", "Quinn", "Roth", "Sato", "Tran", "Uhl", "Vega"};
    for (std::uint64_t i = 0; n < shape.events; ++i)
        add(agencies[i % agencies.size()], uuid_of(0xc1, n),
            events::ClientAdded{firsts[i % 10], std::string(lasts[(i / 10) % 10]) + std::to_string(i), "1990-01-02",
                                "", "", ""});
}

}  // namespace carelog::bench
