// unrolled<N>(f) calls f(0), ..., f(N - 1) as straight-line code: how the AVX2 kernel files walk their arrays of
// register sums. Written as loops, GCC may turn the loop that stores such an array out into a memcpy, which puts
// the array in memory: C5 then stored its 15 sums to the stack on every input and took 1.5x as long.
// Internal linkage on purpose: each kernel file, compiled with its own -m flags, keeps its own copy, never one
// the linker could hand to code for other CPUs (see kernels.h).
#pragma once

#include <cstddef>
#include <utility>

namespace lenet5::native::detail {
namespace {

template <class F, size_t... I>
__attribute__((always_inline)) inline void unrolled(const F& f, std::index_sequence<I...>) {
  (f(static_cast<int>(I)), ...);
}

template <int N, class F>
__attribute__((always_inline)) inline void unrolled(const F& f) {
  unrolled(f, std::make_index_sequence<N>{});
}

}  // namespace
}  // namespace lenet5::native::detail
