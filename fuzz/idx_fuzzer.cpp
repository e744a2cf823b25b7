// libFuzzer: parse_idx on arbitrary bytes, as an images file and as a labels file, with the default size
// limit and with a tiny one (so the "absurd size" path is reachable with small inputs).
#include <cstddef>
#include <cstdint>

#include "idx_check.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using lenet5::data::IdxKind;
  lenet5::data::IdxLimits tiny;
  tiny.max_payload_bytes = 256;
  for (const IdxKind kind : {IdxKind::kImages, IdxKind::kLabels}) {
    for (const lenet5::data::IdxLimits& limits : {lenet5::data::IdxLimits{}, tiny}) {
      lenet5::fuzz::check_parse(kind, "input",
                                [&] { return lenet5::data::parse_idx(data, size, kind, "input", limits); });
    }
  }
  return 0;
}
