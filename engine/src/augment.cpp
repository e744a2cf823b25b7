#include "lenet5/engine/augment.h"

#include <cmath>

namespace lenet5::engine {

torch::Tensor random_affine(const torch::Tensor& images, at::Generator& generator, const AugmentOptions& options) {
  const int64_t n = images.size(0);
  auto uniform = [&](double bound) {
    return torch::rand({n}, generator, torch::TensorOptions().dtype(torch::kFloat32)) * (2 * bound) - bound;
  };
  const auto angle = uniform(options.max_rotation_degrees * M_PI / 180.0);
  const auto scale_x = 1 + uniform(options.max_scale_change);
  const auto scale_y = 1 + uniform(options.max_scale_change);
  const auto shear = uniform(options.max_shear);
  const auto shift_x = uniform(options.max_translation);
  const auto shift_y = uniform(options.max_translation);
  // theta maps output coordinates to input coordinates: rotation * shear * scale, plus the shift.
  const auto cos_a = angle.cos(), sin_a = angle.sin();
  auto a = cos_a * scale_x;
  auto b = (cos_a * shear - sin_a) * scale_y;
  auto c = sin_a * scale_x;
  auto d = (sin_a * shear + cos_a) * scale_y;
  auto theta = torch::stack({a, b, shift_x, c, d, shift_y}, 1).view({n, 2, 3}).to(images.device());
  auto grid = torch::nn::functional::affine_grid(theta, images.sizes().vec(), /*align_corners=*/false);
  return torch::nn::functional::grid_sample(images, grid,
                                            torch::nn::functional::GridSampleFuncOptions()
                                                .mode(torch::kBilinear)
                                                .padding_mode(torch::kZeros)
                                                .align_corners(false));
}

}  // namespace lenet5::engine
