// ONNX Runtime (onnxruntime-node, CPU execution provider) timing the exported LeNet-5 the way lenet5 bench times
// its own: per batch size, warm-up, then batches for --seconds; p50 latency and images/s from the mean latency.
// Prints one JSON object. Used by compare_onnx.py.
//   node onnx_runner.js --ort DIR/node_modules/onnxruntime-node --model FILE.onnx --batch-sizes 1,64,1024
//        [--seconds 1] [--threads 1] [--check FILE.json]
'use strict';

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

async function timeBatches(session, batch, seconds) {
  const data = new Float32Array(batch * 28 * 28).map(() => Math.random());
  const feeds = {images: new session.ort.Tensor('float32', data, [batch, 1, 28, 28])};
  for (let i = 0; i < 10; ++i) await session.run(feeds);
  const latencies = [];
  const start = process.hrtime.bigint();
  while (latencies.length < 5 || Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const before = process.hrtime.bigint();
    await session.run(feeds);
    latencies.push(Number(process.hrtime.bigint() - before) / 1e3);
  }
  const total = latencies.reduce((a, b) => a + b, 0);
  latencies.sort((a, b) => a - b);
  const p50 = latencies[Math.min(latencies.length - 1, Math.round(0.5 * (latencies.length - 1)))];
  return {batch_size: batch, iterations: latencies.length, p50_us: p50, images_per_second: batch * latencies.length / (total / 1e6)};
}

async function main() {
  const args = parse(process.argv);
  const ort = require(args.ort);
  const session = await ort.InferenceSession.create(args.model, {
    executionProviders: ['cpu'], intraOpNumThreads: args.threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential'});
  session.ort = ort;
  const report = {engine: `onnxruntime-node ${ort.env.versions.node}`, threads: args.threads, results: []};
  if (args.check) {  // the scores of given images, to check the export
    const check = require(args.check);
    const n = check.images.length / 784;
    const out = await session.run({images: new ort.Tensor('float32', Float32Array.from(check.images), [n, 1, 28, 28])});
    report.check_scores = Array.from(out.scores.data);
  }
  for (const batch of args.batchSizes) report.results.push(await timeBatches(session, batch, args.seconds));
  console.log(JSON.stringify(report));
}

main().catch((error) => { console.error(`onnx_runner: ${error.message}`); process.exit(1); });
