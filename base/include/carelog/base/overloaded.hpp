// The visitor of several lambdas for std::visit: overloaded{[](const A&) {...}, [](const B&) {...}}.
#pragma once

namespace carelog {

template <class... F>
struct overloaded : F... {
    using F::operator()...;
};
// Spelled out for compilers without C++20's aggregate deduction (clang before 17, used by ops/fuzz).
template <class... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace carelog
