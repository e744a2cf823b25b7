// Shared by the fuzzers: what a parse result must satisfy. Any other exception than IdxError, or a
// result that breaks these rules, aborts, which libFuzzer reports as a crash.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lenet5/data/idx.h"

namespace lenet5::fuzz {

inline void require(bool ok) {
  if (!ok) std::abort();
}

// Runs `parse` (which returns an IdxArray of `kind`) and checks its result or its error message.
template <typename Parse>
void check_parse(lenet5::data::IdxKind kind, const std::string& name, Parse parse) {
  try {
    const lenet5::data::IdxArray array = parse();
    require(array.dims.size() == (kind == lenet5::data::IdxKind::kImages ? 3u : 1u));
    std::uint64_t product = 1;
    for (const std::uint32_t dim : array.dims) {
      require(dim > 0);
      product *= dim;
    }
    require(array.values.size() == product);
    require(array.count() == array.dims[0]);
  } catch (const lenet5::data::IdxError& e) {
    require(std::strncmp(e.what(), (name + ": ").c_str(), name.size() + 2) == 0);  // names the file
  }
}

}  // namespace lenet5::fuzz
