// TorchScript export of a trained LeNet5: a self-contained torch::jit::Module, loadable with
// torch::jit::load in C++ and torch.jit.load in Python without this project's code, plus metadata.json
// (variant, dataset, class names, accuracy, training config) stored in the same archive.
//
// Contract: forward(x) with x float32 [N,1,28,28], pixel values in [0,1], ink high (as in MNIST) returns
// scores [N,10], higher = more likely (softmax gives probabilities). The variant's preprocessing (padding,
// normalisation) happens inside forward.
#pragma once

#include <torch/script.h>
#include <torch/torch.h>

#include <string>

#include "lenet5/deploy/exported_model.h"
#include "lenet5/deploy/metadata.h"
#include "lenet5/model/lenet5.h"

namespace lenet5::deploy {

// The digests of `module`'s tensors (metadata.h, TensorDigests).
TensorDigests tensor_digests(const torch::jit::Module& module);

// A fixed batch of 16 images in [0,1) that needs no random generator: frac(i * golden ratio) for the i-th
// pixel. Its scores, recorded at export, let a loader detect a corrupt file (torch archives carry no checksum).
torch::Tensor check_batch();

// The model as a scripted module: its trained tensors copied to the CPU (classic C3 as its dense kernel with
// zeros for absent connections) and a forward written in TorchScript. In eval mode.
torch::jit::Module to_torchscript(model::LeNet5& model);

struct ExportReport {
  int64_t bytes = 0;
  std::string optimization;       // as recorded in the metadata: "none", "freeze" or "freeze+optimize_for_inference"
  double max_abs_diff = 0;        // between the exported module and the eager model on a fixed check batch
  std::string optimization_note;  // why optimize_for_inference's module was not kept; empty when it was
};

// Writes the model and metadata to `out_path` atomically (temporary file + rename), creating the folder.
// `optimize`: freeze (weights become graph constants; numerics preserved) and, where the result can be saved
// and loaded again, optimize_for_inference (LibTorch 1.13 cannot reload the MKLDNN constants it creates, so
// there the frozen module is saved). Verifies that the module reproduces the eager model's scores before
// writing; throws DeployError naming the file otherwise.
ExportReport export_torchscript(model::LeNet5& model, const ExportMetadata& metadata, const std::string& out_path,
                                bool optimize);

}  // namespace lenet5::deploy
