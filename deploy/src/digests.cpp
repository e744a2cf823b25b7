#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "export_checks.h"
#include "lenet5/deploy/export.h"
#include "lenet5/text/printable.h"

namespace lenet5::deploy {
namespace {

std::string crc32_hex(const torch::Tensor& tensor) {
  const auto bytes = tensor.detach().to(torch::kCPU).contiguous();
  uLong crc = crc32(0L, Z_NULL, 0);
  const auto* data = static_cast<const Bytef*>(bytes.data_ptr());
  for (size_t left = bytes.nbytes(); left > 0;) {  // crc32 takes at most 4 GiB at a time
    const auto n = static_cast<uInt>(std::min<size_t>(left, 1u << 30));
    crc = crc32(crc, data, n);
    data += n, left -= n;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08lx", static_cast<unsigned long>(crc));
  return hex;
}

// The tensors a frozen module holds in its graph, in graph order.
void add_constant_digests(const torch::jit::Block* block, TensorDigests& digests, int& count) {
  for (const torch::jit::Node* node : block->nodes()) {
    if (node->kind() == c10::prim::Constant && node->output()->type()->kind() == c10::TypeKind::TensorType) {
      const auto value = torch::jit::toIValue(node->output());
      if (value && value->isTensor()) {
        digests.emplace_back("constant " + std::to_string(count++), crc32_hex(value->toTensor()));
      }
    }
    for (const torch::jit::Block* inner : node->blocks()) add_constant_digests(inner, digests, count);
  }
}

// The first difference between the digests recorded at export and those of the loaded module, or "".
std::string first_difference(const TensorDigests& recorded, const TensorDigests& actual) {
  for (size_t i = 0; i < actual.size(); ++i) {
    if (i >= recorded.size() || recorded[i].first != actual[i].first) {
      return "tensor '" + text::printable(actual[i].first) + "' has no digest recorded at export";
    }
    if (recorded[i].second != actual[i].second) {
      return "tensor '" + text::printable(actual[i].first) + "' differs from the digest recorded at export (crc32 " +
             actual[i].second + ", recorded " + text::printable(recorded[i].second) + ")";
    }
  }
  if (recorded.size() > actual.size()) {
    return "tensor '" + text::printable(recorded[actual.size()].first) + "' recorded at export is missing";
  }
  return "";
}

}  // namespace

TensorDigests tensor_digests(const torch::jit::Module& module) {
  TensorDigests digests;
  for (const auto& parameter : module.named_parameters())
    digests.emplace_back(parameter.name, crc32_hex(parameter.value));
  for (const auto& buffer : module.named_buffers()) digests.emplace_back(buffer.name, crc32_hex(buffer.value));
  int constants = 0;
  if (const auto forward = module.find_method("forward")) {
    add_constant_digests(forward->graph()->block(), digests, constants);
  }
  return digests;
}

void detail::verify_digests(const ExportedModel& loaded) {
  const std::string file = text::printable(loaded.path);
  if (loaded.metadata.tensor_digests.empty()) {
    static bool warned = false;  // once per process
    if (!warned) {
      std::cerr << "lenet5: warning: " << file << ": exported without tensor digests (before lenet5 recorded "
                << "them): only the self-test guards it against corruption; export it again to add them\n";
      warned = true;
    }
    return;
  }
  const std::string difference = first_difference(loaded.metadata.tensor_digests, tensor_digests(loaded.module));
  if (!difference.empty()) throw DeployError(file + ": corrupt model: " + difference);
}

}  // namespace lenet5::deploy
