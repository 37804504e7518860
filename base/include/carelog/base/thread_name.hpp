// Names the calling thread (at most 15 characters are kept), so that top -H, perf's comm and
// /proc/<pid>/task/*/comm tell carelogd's threads apart: the http io threads, the writer's lanes, their
// committers and snapshot threads, the projection's appliers, the record views' drain and the audit
// model's consumer of them.
#pragma once

#include <pthread.h>

#include <string>

namespace carelog {

inline void name_this_thread(const std::string& name) {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace carelog
