#!/usr/bin/python3
"""lenet5's serving path (`lenet5 bench --modes optimized`: InferenceSession, the native plan) against ONNX Runtime
(onnxruntime-node, CPU execution provider) on the same exported modern model, same machine, one run.

The model is exported to ONNX here (Debian python3-torch + python3-onnx: the exported file's weights in the
same network written in PyTorch, checked against the TorchScript file, then torch.onnx.export). lenet5 and ONNX
Runtime alternate for --rounds rounds, each at 1 thread (ONNX Runtime: intraOpNumThreads 1, interOpNumThreads 1);
each round also times lenet5 at 2 threads on the largest batch. ONNX Runtime is timed three ways (onnx_runner.js):
through Node's async `session.run` (end to end), through its synchronous native binding (no event-loop hop, as
Python calls it), and by its own profiler inside the engine (`model_run`; profiling slows the runs). Every ratio
is the median of the per-round ratios with their range; the goals of issue 16 are judged against the best of
the three in each round (the fastest ONNX Runtime measured) and printed met or not met.

usage: compare_onnx.py --lenet5 BUILD/app/lenet5 --model FILE.pt --ort NODE_MODULES/onnxruntime-node --out DIR
                       [--rounds 3] [--seconds 1] [--batch-sizes 1,64,1024]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import LeNet5  # noqa: E402  the modern network as lenet5 builds it
from rounds import shown, spread  # noqa: E402

RUNNER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "onnx_runner.js")


def run_json(command):
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        sys.exit(f"compare_onnx: {' '.join(command)} failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def export_onnx(model_path, onnx_path, check_path):
    """The TorchScript file's modern network as ONNX; returns the scripted module's scores of the check images."""
    scripted = torch.jit.load(model_path, map_location="cpu").eval()
    params = dict(scripted.named_parameters())
    if "output_weight" not in params:
        sys.exit(f"compare_onnx: {model_path} is not the modern variant (ONNX comparison covers the modern network)")
    net = LeNet5().eval()
    net.load_state_dict({name.replace("_", ".", 1): value for name, value in params.items()})
    images = torch.rand(5, 1, 28, 28, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        expected = scripted(images)
        difference = (net(images) - expected).abs().max().item()
        if difference > 1e-4 * max(1.0, expected.abs().max().item()):
            sys.exit(f"compare_onnx: the PyTorch network differs from {model_path} by {difference}")
        torch.onnx.export(net, images, onnx_path, input_names=["images"], output_names=["scores"],
                          dynamic_axes={"images": {0: "batch"}, "scores": {0: "batch"}}, opset_version=13)
    with open(check_path, "w") as f:
        json.dump({"images": images.flatten().tolist()}, f)
    return expected


# How onnx_runner.js times ONNX Runtime (keys of its results), and the best of them per round.
ORT_WAYS = (("api", "ORT Node async API"), ("sync", "ORT sync binding"), ("engine", "ORT engine (profiler)"),
            ("best", "ORT best of the three"))


def with_best(result):
    ways = [result] + [result[w] for w in ("sync", "engine")]
    result["best"] = {"p50_us": min(w["p50_us"] for w in ways),
                      "images_per_second": max(w["images_per_second"] for w in ways)}
    return result


def ort_way(result, way):
    return result if way == "api" else result[way]


def batch_rows(b, rounds, flops, peak):
    """Prints batch b's rows (lenet5, then each way of timing ONNX Runtime with lenet5's ratios to it); returns
    its summary, whose throughput and latency ratios are against the best ONNX Runtime of each round."""
    engine = rounds[0]["lenet5"][b]["engine"]
    entry = {"batch_size": b, "engine": engine}
    for way, name in ((None, f"lenet5 {engine}"),) + ORT_WAYS:
        def of_round(r, way=way):
            return r["lenet5"][b] if way is None else ort_way(r["onnxruntime"][b], way)
        m = {k: statistics.median(of_round(r)[k] for r in rounds) for k in ("p50_us", "images_per_second")}
        gflops = m["images_per_second"] * flops / 1e9
        line = f"{b:>6} {name:<22.22} {m['p50_us']:>9.1f} {m['images_per_second']:>10.0f} {gflops:>8.1f} {100 * gflops / peak:>7.1f}"
        if way is None:
            entry["lenet5"] = m
        else:
            throughput = spread([r["lenet5"][b]["images_per_second"] / of_round(r)["images_per_second"] for r in rounds])
            latency = spread([of_round(r)["p50_us"] / r["lenet5"][b]["p50_us"] for r in rounds])
            line += f"   {shown(throughput)}, {shown(latency)} lower"
            entry[f"onnxruntime_{way}"] = dict(m, throughput_ratio=throughput, p50_latency_ratio=latency)
        print(line)
    best = entry["onnxruntime_best"]
    entry.update(onnxruntime=entry["onnxruntime_api"], throughput_ratio=best["throughput_ratio"],
                 p50_latency_ratio=best["p50_latency_ratio"])
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lenet5", required=True)
    parser.add_argument("--model", required=True, help="exported modern model (lenet5 export)")
    parser.add_argument("--ort", required=True, help="the onnxruntime-node package folder")
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--batch-sizes", default="1,64,1024")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    largest = max(batch_sizes)

    onnx_path, check_path = os.path.join(args.out, "lenet5-modern.onnx"), os.path.join(args.out, "check.json")
    expected = export_onnx(args.model, onnx_path, check_path)
    ort_command = ["node", RUNNER, "--ort", os.path.abspath(args.ort), "--model", onnx_path, "--threads", "1",
                   "--seconds", str(args.seconds), "--batch-sizes", ",".join(map(str, batch_sizes))]
    checked = run_json(ort_command[:2] + ["--ort", os.path.abspath(args.ort), "--model", onnx_path, "--seconds", "0.01",
                                          "--batch-sizes", "1", "--check", os.path.abspath(check_path)])
    for key in ("check_scores", "check_scores_sync"):
        difference = (torch.tensor(checked[key]).view(-1, 10) - expected).abs().max().item()
        if difference > 1e-4 * max(1.0, expected.abs().max().item()):
            sys.exit(f"compare_onnx: ONNX Runtime's scores ({key}) differ from the TorchScript file's by {difference}")

    def ours(threads, sizes):
        report = run_json([args.lenet5, "bench", "--model", args.model, "--modes", "optimized", "--device", "cpu",
                           "--threads", str(threads), "--seconds", str(args.seconds), "--batch-sizes",
                           ",".join(map(str, sizes)), "--json"])
        return report, {r["batch_size"]: r for r in report["results"]}

    rounds = []
    print(f"== lenet5 vs ONNX Runtime, {args.rounds} rounds (lenet5 1 thread, ONNX Runtime 1 thread, "
          f"lenet5 2 threads at batch {largest})", flush=True)
    for r in range(1, args.rounds + 1):
        report, one = ours(1, batch_sizes)
        ort = {x["batch_size"]: with_best(x) for x in run_json(ort_command)["results"]}
        _, two = ours(2, [largest])
        rounds.append({"lenet5": one, "onnxruntime": ort, "lenet5_2_threads": two[largest],
                       "fma_peak_gflops": report["fma_peak_gflops"]})
        print(f"  round {r}: " + ", ".join(f"b{b} {one[b]['images_per_second']:.0f} vs {ort[b]['best']['images_per_second']:.0f}"
                                          for b in batch_sizes) + " img/s (ONNX Runtime: best of its three timings)", flush=True)

    flops = report["flops_per_image"]
    peak = statistics.median(r["fma_peak_gflops"] for r in rounds)
    summary = {"rounds": rounds, "flops_per_image": flops, "fma_peak_gflops": peak}
    print(f"\nLeNet-5 (modern), {flops / 1e6:.3f} MFLOP per image; one core's FMA peak (measured) {peak:.1f} GFLOP/s; "
          f"medians of {args.rounds} rounds, ratios median (range)\n")
    print(f"{'batch':>6} {'engine':<22} {'p50 us':>9} {'images/s':>10} {'GFLOP/s':>8} {'% peak':>7}   "
          f"lenet5 vs it: throughput, p50 latency")
    summary["batches"] = [batch_rows(b, rounds, flops, peak) for b in batch_sizes]
    scaling = spread([r["lenet5_2_threads"]["images_per_second"] / r["lenet5"][largest]["images_per_second"] for r in rounds])
    two = statistics.median(r["lenet5_2_threads"]["images_per_second"] for r in rounds)
    print(f"\nlenet5 at 2 threads, batch {largest}: {two:.0f} images/s, {shown(scaling)} its 1-thread figure")
    summary["two_thread_scaling"] = scaling

    by_batch = {s["batch_size"]: s for s in summary["batches"]}
    goals = []
    if 1 in by_batch:
        goals.append(("batch 1 p50 <= 15 us", by_batch[1]["lenet5"]["p50_us"] <= 15, f"{by_batch[1]['lenet5']['p50_us']:.1f} us"))
        goals.append(("batch 1 throughput >= 2x ONNX Runtime's best", by_batch[1]["throughput_ratio"]["median"] >= 2,
                      shown(by_batch[1]["throughput_ratio"])))
    for b in (64, 1024):
        if b in by_batch:
            goals.append((f"batch {b} throughput >= 2x ONNX Runtime's best", by_batch[b]["throughput_ratio"]["median"] >= 2,
                          shown(by_batch[b]["throughput_ratio"])))
    goals.append((f"2 threads at batch {largest} >= 1.7x 1 thread", scaling["median"] >= 1.7, shown(scaling)))
    print("\nissue 16 goals (medians):")
    for name, met, figure in goals:
        print(f"  {'met    ' if met else 'NOT met'}  {name}: {figure}")
    summary["goals"] = [{"goal": n, "met": m, "figure": f} for n, m, f in goals]
    with open(os.path.join(args.out, "onnx_comparison.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
