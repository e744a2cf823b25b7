#!/usr/bin/env python3
"""A Python client of a model exported by `lenet5 export`, using nothing but PyTorch and numpy.

For each --model (with its --expected scores): loads the TorchScript file with torch.jit.load, reads
metadata.json from it, runs the self-test recorded at export, scores the MNIST test set (raw IDX files,
optionally gzipped) and compares the scores with those the C++ side computed (float32 [N,10], little-endian;
the first N test images are scored) and, over the whole test set, the accuracy with the one recorded at
export. Exits 0 when everything matches.
"""
import argparse
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def find(root, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(root, candidate)
        if os.path.exists(path):
            return path
    sys.exit(f"python client: {name} not found in {root}")


def check_batch():
    # The same 16 images as lenet5::deploy::check_batch(): frac(i * golden ratio) per pixel, in float64.
    i = torch.arange(16 * 28 * 28, dtype=torch.float64)
    return torch.frac(i * 0.6180339887498949).to(torch.float32).view(16, 1, 28, 28)


def check(model_path, expected_path, images, labels):
    extra_files = {"metadata.json": ""}
    model = torch.jit.load(model_path, map_location="cpu", _extra_files=extra_files)
    metadata = json.loads(extra_files["metadata.json"])
    names = metadata["class_names"]
    print(f"python client: {metadata['variant']} LeNet-5 on {metadata['dataset']}, optimization "
          f"{metadata['optimization']}, exported with torch {metadata['versions']['torch']}, "
          f"running on torch {torch.__version__}")

    failures = []
    with torch.inference_mode():
        recorded = torch.tensor(metadata["self_test"]["scores"], dtype=torch.float32).view(16, 10)
        self_test = (model(check_batch()) - recorded).abs().max().item()
        if self_test > 1e-4 * max(1.0, recorded.abs().max().item()):
            failures.append(f"self-test: scores differ from those recorded at export by {self_test}")

    expected = torch.from_numpy(np.fromfile(expected_path, dtype="<f4").reshape(-1, 10))
    if not 0 < expected.shape[0] <= images.shape[0]:
        return failures + [f"{expected.shape[0]} expected scores for {images.shape[0]} test images"]
    whole_set = expected.shape[0] == images.shape[0]
    images, labels = images[:expected.shape[0]], labels[:expected.shape[0]]
    with torch.inference_mode():
        scores = torch.cat([model(images[i:i + 1000]) for i in range(0, images.shape[0], 1000)])
    if expected.shape != scores.shape:
        return failures + [f"expected scores of shape {tuple(expected.shape)}, got {tuple(scores.shape)}"]
    max_diff = (scores - expected).abs().max().item()
    predictions = scores.argmax(1)
    accuracy = predictions.eq(labels).double().mean().item()
    probabilities = torch.softmax(scores[:1], 1)[0]
    print(f"python client: {scores.shape[0]} images, accuracy {100 * accuracy:.2f}%, "
          f"max |score difference| vs C++ {max_diff:.3g}; first image: {names[predictions[0]]} "
          f"(p={probabilities.max().item():.3f}, label {names[labels[0]]})")
    # Relative: C++ serves through compiled kernels (oneDNN, XNNPACK) that round differently from torch.jit.load.
    if max_diff > 1e-5 * max(1.0, expected.abs().max().item()):
        failures.append(f"scores differ from the C++ ones by up to {max_diff}")
    if not torch.equal(predictions, expected.argmax(1)):
        failures.append(f"{int((predictions != expected.argmax(1)).sum())} predictions differ from the C++ ones")
    if whole_set and metadata.get("test_accuracy") is not None and accuracy != metadata["test_accuracy"]:
        failures.append(f"accuracy {accuracy} differs from the {metadata['test_accuracy']} recorded at export")
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="folder with the MNIST test IDX files")
    parser.add_argument("--model", action="append", required=True, help="exported model (repeatable)")
    parser.add_argument("--expected", action="append", required=True,
                        help="float32 [N,10] scores from the C++ side, one per --model")
    args = parser.parse_args()
    if len(args.model) != len(args.expected):
        parser.error("give one --expected per --model")

    # The same float32 operation as the C++ dataset (torch divides by a scalar through its reciprocal).
    pixels = torch.from_numpy(read_idx(find(args.data, "t10k-images-idx3-ubyte")).copy())
    images = pixels.to(torch.float32).div_(255.0).view(-1, 1, 28, 28)
    labels = torch.from_numpy(read_idx(find(args.data, "t10k-labels-idx1-ubyte")).astype(np.int64))
    failed = False
    for model_path, expected_path in zip(args.model, args.expected):
        for failure in check(model_path, expected_path, images, labels):
            print(f"python client: FAILED: {model_path}: {failure}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
