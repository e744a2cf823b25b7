#!/usr/bin/python3
"""`lenet5 serve` under load, side by side with the idiomatic Python deployment of the same exported file
(scripts/fastapi_server.py: FastAPI + uvicorn + torch.jit.load), driven by wrk with real MNIST test images as
PNG bodies. Run by scripts/bench_serve.sh.

Four servers run at once on loopback: lenet5 with dynamic batching (--max-batch B), lenet5 without
(--max-batch 1), FastAPI as written idiomatically (the handler runs the model on the event loop) and FastAPI
with the work moved to its thread pool (--offload). For each round, each concurrency and each server in turn (the order rotates
every round, the machine is shared and noisy), wrk posts the bodies for --seconds and reports requests/s and
p50/p99 latency; lenet5's /metrics before and after give the mean batch size. Ratios are per round, printed
as the median with the range over rounds.

--soak S instead runs S seconds of mixed good and bad requests against lenet5 (batching on), sampling its
resident memory (RSS), and reports the statuses (zero 5xx expected) and the RSS over time.
"""
import argparse
import gzip
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time
import urllib.request
import zlib

from rounds import spread  # this folder: Python puts a script's own first on its path

HERE = os.path.dirname(os.path.abspath(__file__))
LUA = os.path.join(HERE, "serve_bodies.lua")
FASTAPI = os.path.join(os.path.dirname(HERE), "scripts", "fastapi_server.py")


# ---- bodies ----

def read_idx(path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gzipped else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return data[4 + 4 * ndim:], dims


def find_idx(mnist_dir, name):
    path = os.path.join(mnist_dir, name)
    return path if os.path.exists(path) else path + ".gz"


def png_chunk(kind, payload):
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_bytes(gray_rows, width, height, declared=None):
    """An 8-bit grayscale PNG (standard library only); `declared` = (width, height) puts another size in its
    header (with a valid CRC), as a hostile file would."""
    raw = b"".join(b"\x00" + gray_rows[y * width:(y + 1) * width] for y in range(height))
    header = struct.pack(">IIBBBBB", *(declared or (width, height)), 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(raw)) +
            png_chunk(b"IEND", b""))


def write_mnist_pngs(mnist_dir, out_dir, count):
    """The first `count` MNIST test images as PNG files; returns [(path, label)]."""
    pixels, (n, height, width) = read_idx(find_idx(mnist_dir, "t10k-images-idx3-ubyte"))
    labels, _ = read_idx(find_idx(mnist_dir, "t10k-labels-idx1-ubyte"))
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for i in range(min(count, n)):
        path = os.path.join(out_dir, f"mnist-{i:05d}-label{labels[i]}.png")
        with open(path, "wb") as f:
            f.write(png_bytes(pixels[i * height * width:(i + 1) * height * width], width, height))
        written.append((path, labels[i]))
    return written


def write_soak_bodies(out_dir, good_png):
    """Hostile bodies that must each get a 4xx, never a 5xx, and a good one of each other kind (multipart, JSON);
    returns [(content_type, path)]."""
    bodies = {
        "truncated.png": ("image/png", good_png[: len(good_png) // 2]),
        "random.bin": ("application/octet-stream", os.urandom(3000)),
        "empty.bin": ("image/png", b""),
        "huge-header.png": ("image/png", png_bytes(bytes(28 * 28), 28, 28, declared=(60000, 60000))),
        "wrong-shape.json": ("application/json", json.dumps({"pixels": [[0.5] * 27] * 28}).encode()),
        "not-json.json": ("application/json", b'{"pixels": [[0.1, 0.2'),
        "nan.json": ("application/json", b'{"pixels": ' + json.dumps([["NaN"] * 28] * 28).encode() + b"}"),
    }
    os.makedirs(out_dir, exist_ok=True)
    listed = []
    for name, (content_type, payload) in bodies.items():
        path = os.path.join(out_dir, name)
        with open(path, "wb") as f:
            f.write(payload)
        listed.append((content_type, path))
    boundary = "lenet5-soak-boundary"
    multipart = os.path.join(out_dir, "good.multipart")
    with open(multipart, "wb") as f:
        f.write(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="digit.png"\r\n'
                f"Content-Type: image/png\r\n\r\n".encode() + good_png + f"\r\n--{boundary}--\r\n".encode())
    listed.append((f"multipart/form-data; boundary={boundary}", multipart))
    good_json = os.path.join(out_dir, "good.json")
    with open(good_json, "w") as f:
        json.dump({"pixels": [[1.0 if 10 <= x <= 16 and 4 <= y <= 24 else 0.0 for x in range(28)]
                              for y in range(28)]}, f)
    listed.append(("application/json", good_json))
    return listed


def write_manifest(path, entries):
    with open(path, "w") as f:
        for content_type, body in entries:
            f.write(f"{content_type}\t{body}\n")
    return path


# ---- servers ----

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ports(first, count):
    """`count` ports from `first` on, or free ones when `first` is 0."""
    return [free_port() for _ in range(count)] if first == 0 else [first + i for i in range(count)]


class Server:
    def __init__(self, name, command, port, has_metrics, log_path):
        self.name, self.port, self.has_metrics = name, port, has_metrics
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        self.backlog = None

    def wait_ready(self, seconds=60):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited with status {self.process.returncode} (see {self.log.name})")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"{self.name} did not answer /healthz within {seconds} s (see {self.log.name})")

    def listen_backlog(self):
        """The listening socket's accept backlog (`ss`'s Send-Q), None without iproute2's ss."""
        try:
            output = subprocess.run(["ss", "-Hltn", f"sport = :{self.port}"], capture_output=True, text=True,
                                    check=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            return None
        return int(output[2]) if len(output) > 2 else None

    def rss_mb(self):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def batch_histogram(self):
        """(sum, count) of the batch-size histogram in /metrics."""
        if not self.has_metrics:
            return None
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode()
        found = {}
        for line in text.splitlines():
            match = re.match(r"^(\w*batch_size\w*)_(sum|count)(\{[^}]*\})?\s+(\S+)", line)
            if match:
                found[match.group(2)] = float(match.group(4))
        return (found.get("sum", 0.0), found.get("count", 0.0))

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def start_servers(args, out):
    lenet5 = [args.lenet5, "serve", "--model", args.model, "--threads", str(args.threads)]
    delay = ["--max-delay-us", str(args.max_delay_us)] if args.max_delay_us is not None else []
    batching, single, fastapi, offload = ports(args.port, 4)
    python = [args.python, FASTAPI, "--model", args.model, "--threads", str(args.threads), "--port"]
    servers = [
        Server(f"lenet5 batching (max {args.max_batch})",
               lenet5 + ["--port", str(batching), "--max-batch", str(args.max_batch)] + delay, batching, True,
               os.path.join(out, "lenet5-batching.log")),
        Server("lenet5 no batching", lenet5 + ["--port", str(single), "--max-batch", "1"], single, True,
               os.path.join(out, "lenet5-single.log")),
        Server("FastAPI", python + [str(fastapi)], fastapi, False, os.path.join(out, "fastapi.log")),
        Server("FastAPI, thread pool", python + [str(offload), "--offload"], offload, False,
               os.path.join(out, "fastapi-offload.log")),
    ]
    try:
        for server in servers:
            server.wait_ready()
            server.backlog = server.listen_backlog()
    except BaseException:  # one did not start: no server outlives the benchmark
        for server in servers:
            server.stop()
        raise
    return servers


# ---- load ----

def run_wrk(url, manifest, concurrency, seconds, threads=1):
    command = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency), "-d", f"{seconds}s",
               "--timeout", "10s", "-s", LUA, url, "--", manifest]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    for line in output.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line[len("WRK_JSON "):])
            result["requests_per_s"] = result["requests"] / (result["duration_us"] / 1e6)
            return result
    sys.exit(f"wrk printed no summary:\n{output}")


def measure(server, manifest, concurrency, seconds):
    before = server.batch_histogram()
    result = run_wrk(server.url, manifest, concurrency, seconds)
    if result["requests"] == 0:
        sys.exit(f"{server.name} answered no request in {seconds} s at concurrency {concurrency} "
                 "(too loaded a machine, or too short a --warmup and --seconds)")
    after = server.batch_histogram()
    if before and after and after[1] > before[1]:
        result["mean_batch"] = (after[0] - before[0]) / (after[1] - before[1])
    return result


def compare(args, out, manifest):
    servers = start_servers(args, out)
    results = {server.name: {c: [] for c in args.concurrency} for server in servers}
    try:
        for server in servers:  # warm-up: every code path, thread and allocation pool once
            if args.warmup > 0:
                run_wrk(server.url, manifest, max(args.concurrency), args.warmup)
        for round_index in range(args.rounds):
            for concurrency in args.concurrency:
                shift = round_index % len(servers)
                for server in servers[shift:] + servers[:shift]:
                    result = measure(server, manifest, concurrency, args.seconds)
                    results[server.name][concurrency].append(result)
                    print(f"  round {round_index + 1} c={concurrency:<3} {server.name:<28} "
                          f"{result['requests_per_s']:9.0f} req/s  p50 {result['p50_us'] / 1000:7.2f} ms  "
                          f"p99 {result['p99_us'] / 1000:7.2f} ms  non-2xx {result['c4xx'] + result['c5xx']}",
                          flush=True)
    finally:
        for server in servers:
            server.stop()
    return summarize(args, servers, results)


def summarize(args, servers, results):
    ours = [server.name for server in servers if server.has_metrics]
    peers = [server.name for server in servers if not server.has_metrics]
    summary = {"rounds": args.rounds, "seconds": args.seconds, "max_batch": args.max_batch, "rows": [],
               "ratios": [], "listen_backlog": {server.name: server.backlog for server in servers}}
    for concurrency in args.concurrency:
        for name in ours + peers:
            runs = results[name][concurrency]
            batches = [r["mean_batch"] for r in runs if "mean_batch" in r]
            summary["rows"].append({
                "server": name, "concurrency": concurrency,
                "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
                "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
                "p99_ms": statistics.median(r["p99_us"] for r in runs) / 1000,
                "mean_batch": statistics.median(batches) if batches else None,
                "errors": sum(r["c4xx"] + r["c5xx"] + r["other"] + r["timeouts"] for r in runs)})
        for peer in peers:
            for name in ours:
                pairs = list(zip(results[name][concurrency], results[peer][concurrency]))
                summary["ratios"].append({
                    "server": name, "peer": peer, "concurrency": concurrency,
                    "throughput_ratio": spread([a["requests_per_s"] / b["requests_per_s"] for a, b in pairs]),
                    "p99_ratio": spread([b["p99_us"] / max(a["p99_us"], 1) for a, b in pairs])})
    return summary


def print_summary(summary):
    print(f"\nMedians over {summary['rounds']} rounds of {summary['seconds']} s per point:\n")
    print("| concurrency | server | requests/s | p50 | p99 | mean batch | errors |")
    print("|---|---|---|---|---|---|---|")
    for row in summary["rows"]:
        batch = f"{row['mean_batch']:.1f}" if row["mean_batch"] is not None else "-"
        print(f"| {row['concurrency']} | {row['server']} | {row['requests_per_s']:,.0f} | {row['p50_ms']:.2f} ms "
              f"| {row['p99_ms']:.2f} ms | {batch} | {row['errors']} |")
    print("\nPer-round ratios, median (min-max); p99 ratio = the peer's p99 / lenet5's (above 1: lenet5 lower)\n")
    print("| concurrency | server | against | requests/s ratio | p99 ratio |")
    print("|---|---|---|---|---|")
    for ratio in summary["ratios"]:
        t, p = ratio["throughput_ratio"], ratio["p99_ratio"]
        print(f"| {ratio['concurrency']} | {ratio['server']} | {ratio['peer']} | **{t['median']:.2f}x** "
              f"({t['min']:.2f}-{t['max']:.2f}) | {p['median']:.2f}x ({p['min']:.2f}-{p['max']:.2f}) |")


# ---- soak ----

def soak(args, out, manifest):
    port = ports(args.port, 1)[0]
    lenet5 = [args.lenet5, "serve", "--model", args.model, "--threads", str(args.threads), "--port", str(port),
              "--max-batch", str(args.max_batch)]
    server = Server("lenet5", lenet5, port, True, os.path.join(out, "lenet5-soak.log"))
    try:
        server.wait_ready()
    except BaseException:
        server.stop()
        raise
    samples = [(0.0, server.rss_mb())]
    start = time.time()
    wrk = subprocess.Popen(["wrk", "-t", "1", "-c", str(args.soak_concurrency), "-d", f"{args.soak}s",
                            "--timeout", "10s", "-s", LUA, server.url, "--", manifest],
                           stdout=subprocess.PIPE, text=True)
    while wrk.poll() is None:
        time.sleep(min(5.0, max(args.soak / 60, 1.0)))
        samples.append((time.time() - start, server.rss_mb()))
    output = wrk.stdout.read()
    healthy = urllib.request.urlopen(server.url + "/healthz", timeout=5).status == 200
    status = server.stop()
    line = next((l for l in output.splitlines() if l.startswith("WRK_JSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no summary:\n{output}")
    result = json.loads(line[len("WRK_JSON "):])
    settled = [rss for t, rss in samples if t >= args.soak * 0.1] or [samples[-1][1]]
    report = {"seconds": args.soak, "concurrency": args.soak_concurrency, "requests": result["requests"],
              "c2xx": result["c2xx"], "c4xx": result["c4xx"], "c5xx": result["c5xx"], "other": result["other"],
              "timeouts": result["timeouts"], "p99_ms": result["p99_us"] / 1000,
              "rss_mb": [{"t": round(t, 1), "rss": round(rss, 1)} for t, rss in samples],
              "rss_start_mb": samples[0][1], "rss_settled_first_mb": settled[0], "rss_last_mb": samples[-1][1],
              "rss_max_mb": max(rss for _, rss in samples), "healthy_after": healthy, "exit_status": status}
    print(f"soak: {result['requests']} requests in {args.soak} s at concurrency {args.soak_concurrency}: "
          f"{result['c2xx']} 2xx, {result['c4xx']} 4xx, {result['c5xx']} 5xx, {result['other']} other, "
          f"{result['timeouts']} timeouts; p99 {result['p99_us'] / 1000:.2f} ms")
    step = max(1, len(samples) // 10)
    print("RSS over time: " + ", ".join(f"{t:.0f}s {rss:.1f} MB" for t, rss in samples[::step] + [samples[-1]]))
    print(f"RSS after warm-up {settled[0]:.1f} MB -> end {samples[-1][1]:.1f} MB "
          f"(max {report['rss_max_mb']:.1f} MB); /healthz after: {'ok' if healthy else 'FAILED'}; "
          f"exit status after SIGTERM: {status}")
    ok = result["c5xx"] == 0 and result["other"] == 0 and healthy and status == 0
    print("soak: " + ("PASS (zero 5xx, still serving, clean exit)" if ok else "FAIL"))
    return report, ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lenet5", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="MNIST folder (t10k files)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-delay-us", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=1, help="seconds of load on each server before the rounds")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18480, help="first of the ports (0: free ones)")
    parser.add_argument("--soak", type=int, default=0, help="seconds of mixed good and bad requests instead")
    parser.add_argument("--soak-concurrency", type=int, default=16)
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    os.makedirs(args.out, exist_ok=True)
    images = write_mnist_pngs(args.data, os.path.join(args.out, "bodies"), args.images)
    good = [("image/png", path) for path, _ in images]
    if args.soak:
        with open(images[0][0], "rb") as f:
            bad = write_soak_bodies(os.path.join(args.out, "bad-bodies"), f.read())
        # One bad body for every two good ones.
        mixed = []
        for i, entry in enumerate(bad):
            mixed += [good[2 * i % len(good)], good[(2 * i + 1) % len(good)], entry]
        report, ok = soak(args, args.out, write_manifest(os.path.join(args.out, "soak.txt"), mixed))
        with open(os.path.join(args.out, "soak.json"), "w") as f:
            json.dump(report, f, indent=1)
        sys.exit(0 if ok else 1)
    summary = compare(args, args.out, write_manifest(os.path.join(args.out, "good.txt"), good))
    print_summary(summary)
    with open(os.path.join(args.out, "serve.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
