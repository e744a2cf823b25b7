#pragma once

#include <ATen/core/Generator.h>
#include <torch/torch.h>

namespace lenet5::engine {

struct AugmentOptions {
  double max_rotation_degrees = 10;
  double max_scale_change = 0.1;  // scale in [1 - x, 1 + x], independently per axis (squeezing)
  double max_shear = 0.15;
  double max_translation = 0.12;  // of the half-width: 0.12 * 14 = about 1.7 pixels
};

// Random affine distortions of a batch [N,1,H,W] on its own device (affine_grid + grid_sample); the
// random parameters come from `generator` (CPU) so runs are reproducible.
torch::Tensor random_affine(const torch::Tensor& images, at::Generator& generator, const AugmentOptions& options = {});

}  // namespace lenet5::engine
