#!/usr/bin/python3
"""The Python PyTorch peer of `lenet5 bench`: the same exported model and network, the same thread count,
timed in the same run; prints C++/Python ratios.

Inference, two ways:
  idiomatic: torch.jit.load + eval() + torch.no_grad()
  expert:    torch.jit.freeze + torch.jit.optimize_for_inference + torch.inference_mode()
Training: the modern LeNet-5 as a torch.nn.Module with an idiomatic DataLoader (shuffle=True) over MNIST,
AdamW, one-cycle schedule, batch 64; optionally the whole default recipe until 99% test accuracy.

usage: compare_pytorch.py --model FILE.pt --cpp-json BENCH.json [--threads 1] [--data DIR]
                          [--train-seconds S] [--time-to-accuracy CPP_SECONDS]
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    with opener(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(data_dir, prefix):
    def find(name):
        path = os.path.join(data_dir, name)
        return path if os.path.exists(path) else path + ".gz"
    images = torch.from_numpy(read_idx(find(prefix + "-images-idx3-ubyte")).copy()).float().div_(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(find(prefix + "-labels-idx1-ubyte")).astype(np.int64))
    return images, labels


class LeNet5(nn.Module):
    """The modern variant, exactly as lenet5 builds it (61,706 parameters)."""

    def __init__(self):
        super().__init__()
        self.C1 = nn.Conv2d(1, 6, 5, padding=2)
        self.C3 = nn.Conv2d(6, 16, 5)
        self.C5 = nn.Conv2d(16, 120, 5)
        self.F6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, 10)

    def forward(self, x):
        x = (x - 0.1307) / 0.3081
        x = F.max_pool2d(F.relu(self.C1(x)), 2)
        x = F.max_pool2d(F.relu(self.C3(x)), 2)
        x = F.relu(self.C5(x)).flatten(1)
        return self.output(F.relu(self.F6(x)))


def time_batches(step, seconds, warmup=10):
    for _ in range(warmup):
        step()
    latencies = []
    start = time.perf_counter()
    while len(latencies) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step()
        latencies.append((time.perf_counter() - t0) * 1e6)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1) + 0.5))]
    return {"p50_us": pick(0.5), "p90_us": pick(0.9), "p99_us": pick(0.99),
            "batches_per_second": len(latencies) / (sum(latencies) / 1e6)}


def inference_results(model_path, batch_sizes, seconds):
    idiomatic = torch.jit.load(model_path).eval()
    expert = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(model_path).eval()))
    results = []
    for batch in batch_sizes:
        x = torch.rand(batch, 1, 28, 28)

        def idiomatic_step():
            with torch.no_grad():
                idiomatic(x)

        def expert_step():
            with torch.inference_mode():
                expert(x)

        for mode, step in (("python-idiomatic", idiomatic_step), ("python-expert", expert_step)):
            r = time_batches(step, seconds)
            r.update(mode=mode, batch_size=batch, images_per_second=r.pop("batches_per_second") * batch)
            results.append(r)
    return results


def onecycle(optimizer, peak, total_steps):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps)


def train_throughput(data_dir, batch_size, seconds):
    images, labels = load_split(data_dir, "train")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                         shuffle=True)
    torch.manual_seed(1)
    model = LeNet5().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    seen, start, steps = 0, None, 0
    for x, y in loader:
        if steps == 10:
            start, seen = time.perf_counter(), 0
        optimizer.zero_grad()
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        seen += x.shape[0]
        steps += 1
        if start is not None and time.perf_counter() - start >= seconds:
            break
    return seen / (time.perf_counter() - start)


def time_to_accuracy(data_dir, target=0.99, epochs=2, batch_size=64):
    """The default recipe, whole process: data loading, training, evaluation after each epoch."""
    start = time.perf_counter()
    images, labels = load_split(data_dir, "train")
    test_images, test_labels = load_split(data_dir, "t10k")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=batch_size,
                                         shuffle=True)
    torch.manual_seed(1)
    model = LeNet5()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = onecycle(optimizer, 3e-3, epochs * len(loader))
    for epoch in range(1, epochs + 1):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_images).argmax(1) == test_labels).float().mean().item()
        print(f"python training: epoch {epoch}: test accuracy {100 * accuracy:.2f}% "
              f"at {time.perf_counter() - start:.1f} s", file=sys.stderr)
        if accuracy >= target:
            return time.perf_counter() - start, accuracy, epoch
    return None, accuracy, epochs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="exported TorchScript file (lenet5 export)")
    parser.add_argument("--cpp-json", required=True, help="output of lenet5 bench --json from the same run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=1.0, help="per inference measurement")
    parser.add_argument("--data", help="MNIST folder, for the training comparison")
    parser.add_argument("--train-seconds", type=float, default=10.0)
    parser.add_argument("--time-to-accuracy", type=float, metavar="CPP_SECONDS",
                        help="also run the default recipe to 99%% and compare with the C++ time given")
    parser.add_argument("--json", help="write all figures to this file")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    with open(args.cpp_json) as f:
        cpp = json.load(f)
    cpp_by_key = {(r["mode"], r["batch_size"]): r for r in cpp["results"]}
    batch_sizes = sorted({b for (mode, b) in cpp_by_key if mode != "train"})
    python = inference_results(args.model, batch_sizes, args.seconds)
    py_by_key = {(r["mode"], r["batch_size"]): r for r in python}

    print(f"C++ LibTorch {cpp['torch_version']} vs Python PyTorch {torch.__version__}, "
          f"{args.threads} thread(s) each, {cpp['device']}")
    print(f"{'batch':>6} {'mode':<18} {'p50 us':>10} {'images/s':>12}   {'C++ optimized vs this':>22}")
    summary = {"threads": args.threads, "torch_python": torch.__version__, "inference": [], "training": {}}
    for batch in batch_sizes:
        best_cpp = cpp_by_key.get(("optimized", batch)) or cpp_by_key.get(("torchscript", batch))
        for mode in ("eager", "torchscript", "optimized"):
            r = cpp_by_key.get((mode, batch))
            if r:
                print(f"{batch:>6} {'C++ ' + mode:<18} {r['p50_us']:>10.1f} {r['images_per_second']:>12.0f}")
        for mode in ("python-idiomatic", "python-expert"):
            r = py_by_key[(mode, batch)]
            speedup = best_cpp["images_per_second"] / r["images_per_second"]
            latency = r["p50_us"] / best_cpp["p50_us"]
            print(f"{batch:>6} {mode:<18} {r['p50_us']:>10.1f} {r['images_per_second']:>12.0f}   "
                  f"{speedup:>6.2f}x throughput, {latency:.2f}x lower p50")
            summary["inference"].append({"batch_size": batch, "peer": mode, "throughput_ratio": speedup,
                                         "p50_latency_ratio": latency})

    if args.data:
        cpp_train = [r for r in cpp["results"] if r["mode"] == "train"]
        for r in cpp_train:
            py_rate = train_throughput(args.data, r["batch_size"], args.train_seconds)
            ratio = r["images_per_second"] / py_rate
            print(f"training, batch {r['batch_size']}: C++ {r['images_per_second']:.0f} images/s, "
                  f"Python (DataLoader) {py_rate:.0f} images/s: {ratio:.2f}x")
            summary["training"][str(r["batch_size"])] = {"cpp": r["images_per_second"], "python": py_rate,
                                                         "ratio": ratio}
        if args.time_to_accuracy:
            seconds, accuracy, epochs = time_to_accuracy(args.data, epochs=2)
            shown = f"{seconds:.1f} s ({epochs} epochs)" if seconds else f"not reached ({100 * accuracy:.2f}%)"
            print(f"time to 99.0% test accuracy, whole process: C++ {args.time_to_accuracy:.1f} s, Python {shown}")
            summary["time_to_99"] = {"cpp_seconds": args.time_to_accuracy, "python_seconds": seconds}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
