// The file a function was loaded from: which build of a shared library (Debian's, or the release
// builds ops/rocksdb-release and ops/rdkafka-release make, chosen with LD_LIBRARY_PATH) this
// process runs, so that carelogd's start-up log says so.
#pragma once

#include <dlfcn.h>

#include <string>

namespace carelog {

// The path of the shared object holding `symbol`, or "?" when the loader does not know it.
inline std::string shared_object_of(const void* symbol) {
    Dl_info info{};
    if (dladdr(symbol, &info) == 0 || info.dli_fname == nullptr) return "?";
    return info.dli_fname;
}

}  // namespace carelog
