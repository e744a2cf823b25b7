// Checks shared by export and loading (internal to lenet5_deploy).
#pragma once

#include <torch/torch.h>

#include <string>

#include "lenet5/deploy/exported_model.h"

namespace lenet5::deploy::detail {

inline double max_abs(const torch::Tensor& tensor) { return tensor.abs().max().item<double>(); }

// The loaded module against the digests recorded at export (digests.cpp).
void verify_digests(const ExportedModel& loaded);

// forward on the check batch: finite scores [16,10], equal to those recorded at export when there are any
// (self_test.cpp).
void run_self_test(ExportedModel& loaded);

}  // namespace lenet5::deploy::detail
