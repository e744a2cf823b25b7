// ONNX Runtime (onnxruntime-node, CPU execution provider) timing the exported LeNet-5 the way lenet5 bench times
// its own: per batch size, warm-up, then batches for --seconds; p50 latency and images/s from the mean latency.
// Three ways per batch size, so that Node's share can be told from the engine's:
//   - `api`: the public `await session.run(feeds)` (what a Node.js program calls; each run is a setImmediate hop
//     and a promise);
//   - `sync`: the same engine through the package's synchronous native binding (the call `session.run` makes
//     inside its setImmediate; no event-loop hop, as Python's `session.run`);
//   - `engine`: ORT's own profiler (`enableProfiling`): the `model_run` durations it records inside the engine,
//     without Node. Profiling itself slows every run (its figures are an upper bound of the engine's time).
// Session options: the best measured on the development VM (graph optimisation 'all', whose NCHWc layout and
// Conv+Relu / Gemm+Relu fusion beat 'extended', 'basic' and 'disabled'; CPU memory arena on (off: batch 1024
// 2-3x slower) and memory pattern on (off: no faster); preallocated outputs were not faster). Prints one JSON
// object. Used by compare_onnx.py.
//   node onnx_runner.js --ort DIR/node_modules/onnxruntime-node --model FILE.onnx --batch-sizes 1,64,1024
//        [--seconds 1] [--threads 1] [--check FILE.json]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function parse(argv) {
  const args = {seconds: 1, threads: 1, batchSizes: [1, 64, 1024]};
  for (let i = 2; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--ort') args.ort = value;
    else if (flag === '--model') args.model = value;
    else if (flag === '--seconds') args.seconds = Number(value);
    else if (flag === '--threads') args.threads = Number(value);
    else if (flag === '--batch-sizes') args.batchSizes = value.split(',').map(Number);
    else if (flag === '--check') args.check = value;
    else throw new Error(`unknown flag ${flag}`);
  }
  if (!args.ort || !args.model) throw new Error('--ort and --model are required');
  return args;
}

function summary(batch, latencies) {
  const total = latencies.reduce((a, b) => a + b, 0);
  const sorted = [...latencies].sort((a, b) => a - b);
  const p50 = sorted[Math.min(sorted.length - 1, Math.round(0.5 * (sorted.length - 1)))];
  return {iterations: sorted.length, p50_us: p50, images_per_second: batch * sorted.length / (total / 1e6)};
}

// Latencies (us) of `run` (sync or async) over about `seconds`, after a warm-up.
async function timed(run, seconds) {
  for (let i = 0; i < 10; ++i) await run();
  const latencies = [];
  const start = process.hrtime.bigint();
  while (latencies.length < 5 || Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const before = process.hrtime.bigint();
    await run();
    latencies.push(Number(process.hrtime.bigint() - before) / 1e3);
  }
  return latencies;
}

function feedsOf(ort, batch) {
  const data = new Float32Array(batch * 28 * 28).map(() => Math.random());
  return {images: new ort.Tensor('float32', data, [batch, 1, 28, 28])};
}

// The model_run durations (us) ORT's profiler records for runs of one batch size, warm-up runs left out.
async function engineLatencies(ort, args, options, batch) {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'lenet5-ort-profile-'));
  try {
    const session = await ort.InferenceSession.create(
        args.model, {...options, enableProfiling: true, profileFilePrefix: path.join(folder, 'profile')});
    const feeds = feedsOf(ort, batch);
    const warmup = 10;  // timed()'s
    const runs = warmup + (await timed(() => session.run(feeds), args.seconds)).length;
    session.endProfiling();
    const file = fs.readdirSync(folder).find((name) => name.endsWith('.json'));
    if (!file) throw new Error('ONNX Runtime wrote no profile');
    const durations = JSON.parse(fs.readFileSync(path.join(folder, file))).filter((e) => e.name === 'model_run')
                          .map((e) => e.dur);
    if (durations.length !== runs) throw new Error(`the profile has ${durations.length} runs, expected ${runs}`);
    return durations.slice(warmup);
  } finally {
    fs.rmSync(folder, {recursive: true, force: true});
  }
}

async function main() {
  const args = parse(process.argv);
  const ort = require(args.ort);
  const {binding, initOrt} = require(path.join(args.ort, 'dist', 'binding'));
  const options = {
    executionProviders: ['cpu'], intraOpNumThreads: args.threads, interOpNumThreads: 1, graphOptimizationLevel: 'all',
    executionMode: 'sequential', enableCpuMemArena: true, enableMemPattern: true};
  const session = await ort.InferenceSession.create(args.model, options);
  initOrt();
  const direct = new binding.InferenceSession();
  direct.loadModel(args.model, options);
  const report = {engine: `onnxruntime-node ${ort.env.versions.node}`, threads: args.threads, results: []};
  if (args.check) {  // the scores of given images, to check the export (through both ways of calling it)
    const check = require(args.check);
    const n = check.images.length / 784;
    const feeds = {images: new ort.Tensor('float32', Float32Array.from(check.images), [n, 1, 28, 28])};
    report.check_scores = Array.from((await session.run(feeds)).scores.data);
    report.check_scores_sync = Array.from(direct.run(feeds, {scores: null}, {}).scores.data);
  }
  for (const batch of args.batchSizes) {
    const feeds = feedsOf(ort, batch);
    const api = summary(batch, await timed(() => session.run(feeds), args.seconds));
    const sync = summary(batch, await timed(() => direct.run(feeds, {scores: null}, {}), args.seconds));
    const engine = summary(batch, await engineLatencies(ort, args, options, batch));
    report.results.push({batch_size: batch, ...api, sync, engine});
  }
  console.log(JSON.stringify(report));
}

main().catch((error) => { console.error(`onnx_runner: ${error.message}`); process.exit(1); });
