#!/usr/bin/python3
"""lenet5 (C++ LibTorch) against Python PyTorch (Debian python3-torch) on the same machine, in one run, with the
same thread count, printed as ratios C++/Python.

1. The default training recipe (modern LeNet-5, AdamW 3e-3, one-cycle, batch 64, 2 epochs, stop at 99% test
   accuracy), whole process each, data loading included: `lenet5 train` against the same recipe written the
   idiomatic Python way (TensorDataset + DataLoader(shuffle=True)). Reports training images/s (epochs only)
   and the time to 99%.
2. Inference on the exported model, per batch size: `lenet5 bench` (eager, torchscript, optimized) against
   Python idiomatic (torch.jit.load + eval + no_grad) and expert (freeze + optimize_for_inference +
   inference_mode).
3. Training steps on a fixed batch (no data loading): `lenet5 bench --modes train` against the same step in
   Python (nn.Module, AdamW).

With --device cuda both sides run on the GPU (Python as an idiomatic user would: batches moved to the GPU as they
come), and every timing ends with torch.cuda.synchronize(), as lenet5 bench's do.

This machine is shared and noisy, so C++ and Python alternate, --rounds times, and each ratio is the median of
the per-round ratios (the min and max are printed too).

usage: compare_pytorch.py --lenet5 BUILD/app/lenet5 --data MNIST_DIR --out DIR [--threads 1] [--rounds 3]
                          [--seconds 1] [--batch-sizes 1,8,64,256,1024] [--train-batch-sizes 64]
                          [--model FILE.pt] [--skip-recipe] [--device cpu|cuda]
       compare_pytorch.py --python-recipe --data MNIST_DIR [--threads 1] [--device cpu|cuda]   (one Python run, JSON out)
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from rounds import shown as shown_ratio, spread  # this folder: Python puts a script's own first on its path

RECIPE = {"epochs": 2, "batch_size": 64, "lr": 3e-3, "target": 0.99}


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


# ---- one Python recipe run (run in its own process, so that its whole-process time is comparable) ----

def synchronizer(device):
    """What ends a timed GPU step: its work done, not just queued."""
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def python_recipe(data_dir, device):
    start = time.perf_counter()
    images, labels = load_split(data_dir, "train")
    test_images, test_labels = load_split(data_dir, "t10k")
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels),
                                         batch_size=RECIPE["batch_size"], shuffle=True)
    torch.manual_seed(1)
    model = LeNet5().to(device)
    test_images, test_labels = test_images.to(device), test_labels.to(device)
    sync = synchronizer(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPE["lr"])
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=RECIPE["lr"],
                                                    total_steps=RECIPE["epochs"] * len(loader))
    epochs = []
    for epoch in range(1, RECIPE["epochs"] + 1):
        model.train()
        epoch_start = time.perf_counter()
        for x, y in loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        sync()
        train_seconds = time.perf_counter() - epoch_start
        model.eval()
        with torch.no_grad():
            accuracy = (model(test_images).argmax(1) == test_labels).float().mean().item()
        epochs.append({"epoch": epoch, "test_accuracy": accuracy,
                       "images_per_second": len(images) / train_seconds})
        if accuracy >= RECIPE["target"]:
            break
    return {"epochs": epochs, "in_process_seconds": time.perf_counter() - start}


# ---- orchestration ----

def timed(command, env=None):
    start = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"compare_pytorch: {' '.join(command)} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return seconds, result.stdout


def reached(epochs):
    hits = [e["epoch"] for e in epochs if e["test_accuracy"] >= RECIPE["target"]]
    return hits[0] if hits else None


def recipe_rounds(args):
    rounds = []
    for r in range(1, args.rounds + 1):
        run_dir = os.path.join(args.out, f"cpp-recipe-{r}")
        cpp_seconds, _ = timed([args.lenet5, "train", "--data", args.data, "--epochs", str(RECIPE["epochs"]),
                                "--threads", str(args.threads), "--target-accuracy", str(100 * RECIPE["target"]),
                                "--device", args.device, "--out", run_dir])
        with open(os.path.join(run_dir, "metrics.jsonl")) as f:
            cpp_epochs = [json.loads(line) for line in f if line.strip()]
        py_seconds, out = timed([sys.executable, os.path.abspath(__file__), "--python-recipe", "--data", args.data,
                                 "--threads", str(args.threads), "--device", args.device])
        py = json.loads(out)
        rounds.append({
            "cpp": {"seconds": cpp_seconds, "reached_epoch": reached(cpp_epochs), "run_dir": run_dir,
                    "images_per_second": [e["images_per_second"] for e in cpp_epochs],
                    "test_accuracy": [e["test_accuracy"] for e in cpp_epochs]},
            "python": {"seconds": py_seconds, "reached_epoch": reached(py["epochs"]),
                       "images_per_second": [e["images_per_second"] for e in py["epochs"]],
                       "test_accuracy": [e["test_accuracy"] for e in py["epochs"]]},
        })
        c, p = rounds[-1]["cpp"], rounds[-1]["python"]
        print(f"  round {r}: C++ {c['seconds']:.1f} s to epoch {c['reached_epoch']}, "
              f"{statistics.median(c['images_per_second']):.0f} img/s | Python {p['seconds']:.1f} s to epoch "
              f"{p['reached_epoch']}, {statistics.median(p['images_per_second']):.0f} img/s", flush=True)
    return rounds


def time_batches(step, seconds, sync, warmup=10):
    for _ in range(warmup):
        step()
    sync()
    latencies = []
    start = time.perf_counter()
    while len(latencies) < 5 or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step()
        sync()
        latencies.append((time.perf_counter() - t0) * 1e6)
    latencies.sort()
    return {"p50_us": latencies[min(len(latencies) - 1, int(0.5 * (len(latencies) - 1) + 0.5))],
            "batches_per_second": len(latencies) / (sum(latencies) / 1e6)}


def python_inference(model_path, batch_sizes, seconds, device):
    idiomatic = torch.jit.load(model_path, map_location=device).eval()
    expert = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(model_path, map_location=device).eval()))
    results = {}
    for batch in batch_sizes:
        x = torch.rand(batch, 1, 28, 28, device=device)

        def idiomatic_step():
            with torch.no_grad():
                idiomatic(x)

        def expert_step():
            with torch.inference_mode():
                expert(x)

        for mode, step in (("python-idiomatic", idiomatic_step), ("python-expert", expert_step)):
            r = time_batches(step, seconds, synchronizer(device))
            results[(mode, batch)] = {"p50_us": r["p50_us"], "images_per_second": r["batches_per_second"] * batch}
    return results


def python_train_steps(batch_sizes, seconds, device):
    results = {}
    for batch in batch_sizes:
        torch.manual_seed(1)
        model = LeNet5().to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        x, y = torch.rand(batch, 1, 28, 28, device=device), torch.randint(0, 10, (batch,), device=device)

        def step():
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()

        r = time_batches(step, seconds, synchronizer(device))
        results[("python-train", batch)] = {"p50_us": r["p50_us"], "images_per_second": r["batches_per_second"] * batch}
    return results


def cpp_bench(args, modes, batch_sizes):
    _, out = timed([args.lenet5, "bench", "--model", args.model, "--modes", ",".join(modes),
                    "--batch-sizes", ",".join(map(str, batch_sizes)), "--seconds", str(args.seconds),
                    "--threads", str(args.threads), "--device", args.device, "--json"])  # where Python runs
    report = json.loads(out)
    return report, {(r["mode"], r["batch_size"]): r for r in report["results"]}


def shown(ratio):
    return shown_ratio(ratio, "rounds ")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lenet5", help="the lenet5 executable")
    parser.add_argument("--data", help="MNIST folder")
    parser.add_argument("--out", help="folder for runs and results")
    parser.add_argument("--model", help="exported model for inference (default: exported from the first recipe run)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="per inference or training-step measurement")
    parser.add_argument("--batch-sizes", default="1,8,64,256,1024")
    parser.add_argument("--train-batch-sizes", default="64")
    parser.add_argument("--skip-recipe", action="store_true", help="no whole-recipe comparison (needs --model)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where both sides run")
    parser.add_argument("--python-recipe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device cuda: this Python's torch {torch.__version__} sees no CUDA device")
    if args.python_recipe:
        print(json.dumps(python_recipe(args.data, args.device)))
        return
    missing = [flag for flag, value in (("--lenet5", args.lenet5), ("--out", args.out)) if not value]
    if not args.skip_recipe and not args.data:
        missing.append("--data")
    if args.skip_recipe and not args.model:
        missing.append("--model")
    if missing:
        parser.error("missing " + ", ".join(missing))
    os.makedirs(args.out, exist_ok=True)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    train_batch_sizes = [int(b) for b in args.train_batch_sizes.split(",")]
    summary = {"threads": args.threads, "rounds": args.rounds, "torch_python": torch.__version__}

    if not args.skip_recipe:
        print(f"== default recipe, whole process, {args.rounds} rounds (C++ then Python each round)", flush=True)
        rounds = recipe_rounds(args)
        summary["recipe"] = {"rounds": rounds}
        throughput = spread([statistics.median(r["cpp"]["images_per_second"]) /
                             statistics.median(r["python"]["images_per_second"]) for r in rounds])
        summary["recipe"]["training_throughput_ratio"] = throughput
        cpp_times = [r["cpp"]["seconds"] for r in rounds if r["cpp"]["reached_epoch"]]
        py_times = [r["python"]["seconds"] for r in rounds if r["python"]["reached_epoch"]]
        summary["recipe"]["time_to_99"] = {"cpp_seconds": statistics.median(cpp_times) if cpp_times else None,
                                           "python_seconds": statistics.median(py_times) if py_times else None,
                                           "cpp_reached": len(cpp_times), "python_reached": len(py_times)}
        if not args.model:
            args.model = os.path.join(args.out, "lenet5-modern.pt")
            timed([args.lenet5, "export", "--checkpoint", os.path.join(rounds[0]["cpp"]["run_dir"], "best.pt"),
                   "--out", args.model])

    print(f"== inference and training steps, {args.rounds} rounds", flush=True)
    inference_rounds, step_rounds, cpp_report = [], [], None
    for r in range(args.rounds):
        cpp_report, cpp = cpp_bench(args, ["eager", "torchscript", "optimized"], batch_sizes)
        inference_rounds.append((cpp, python_inference(args.model, batch_sizes, args.seconds, args.device)))
        _, cpp_steps = cpp_bench(args, ["train"], train_batch_sizes)
        step_rounds.append((cpp_steps, python_train_steps(train_batch_sizes, args.seconds, args.device)))

    print(f"\nC++ LibTorch {cpp_report['torch_version']} vs Python PyTorch {torch.__version__}, "
          f"{args.threads} thread(s) each, {cpp_report['device']}; medians of {args.rounds} rounds\n")
    print(f"{'batch':>6} {'':<18} {'p50 us':>9} {'images/s':>10}   C++ optimized vs this: throughput, p50 latency")
    summary["inference"] = []
    for batch in batch_sizes:
        for mode in ("eager", "torchscript", "optimized"):
            p50 = statistics.median(c[(mode, batch)]["p50_us"] for c, _ in inference_rounds)
            ips = statistics.median(c[(mode, batch)]["images_per_second"] for c, _ in inference_rounds)
            engine = inference_rounds[0][0][(mode, batch)].get("engine", "")
            print(f"{batch:>6} {'C++ ' + mode:<18} {p50:>9.1f} {ips:>10.0f}   ({engine})")
        for peer in ("python-idiomatic", "python-expert"):
            p50 = statistics.median(p[(peer, batch)]["p50_us"] for _, p in inference_rounds)
            ips = statistics.median(p[(peer, batch)]["images_per_second"] for _, p in inference_rounds)
            throughput = spread([c[("optimized", batch)]["images_per_second"] / p[(peer, batch)]["images_per_second"]
                                 for c, p in inference_rounds])
            latency = spread([p[(peer, batch)]["p50_us"] / c[("optimized", batch)]["p50_us"] for c, p in inference_rounds])
            print(f"{batch:>6} {peer:<18} {p50:>9.1f} {ips:>10.0f}   {shown(throughput)}, {shown(latency)}")
            summary["inference"].append({"batch_size": batch, "peer": peer, "throughput_ratio": throughput,
                                         "p50_latency_ratio": latency})

    summary["training_steps"] = []
    print()
    for batch in train_batch_sizes:
        ratio = spread([c[("train", batch)]["images_per_second"] / p[("python-train", batch)]["images_per_second"]
                        for c, p in step_rounds])
        cpp_ips = statistics.median(c[("train", batch)]["images_per_second"] for c, _ in step_rounds)
        py_ips = statistics.median(p[("python-train", batch)]["images_per_second"] for _, p in step_rounds)
        print(f"training steps, batch {batch}, fixed batch: C++ {cpp_ips:.0f} images/s, Python {py_ips:.0f} images/s: "
              f"{shown(ratio)}")
        summary["training_steps"].append({"batch_size": batch, "cpp": cpp_ips, "python": py_ips, "ratio": ratio})

    if "recipe" in summary:
        rec = summary["recipe"]
        cpp_ips = statistics.median(statistics.median(r["cpp"]["images_per_second"]) for r in rec["rounds"])
        py_ips = statistics.median(statistics.median(r["python"]["images_per_second"]) for r in rec["rounds"])
        print(f"default recipe, training: C++ {cpp_ips:.0f} images/s, Python (DataLoader) {py_ips:.0f} images/s: "
              f"{shown(rec['training_throughput_ratio'])}")
        t = rec["time_to_99"]
        fmt = lambda s, n: f"{s:.1f} s ({n}/{args.rounds} rounds reached 99%)" if s else f"not reached in {args.rounds} rounds"
        print(f"time to 99.0% test accuracy, whole process: C++ {fmt(t['cpp_seconds'], t['cpp_reached'])}, "
              f"Python {fmt(t['python_seconds'], t['python_reached'])}")
    with open(os.path.join(args.out, "comparison.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"\nresults: {os.path.join(args.out, 'comparison.json')}")


if __name__ == "__main__":
    main()
