// tests/cli/onnx_run.js - ONNX Runtime (npm's onnxruntime-node, found through
// NODE_PATH) on an exported netrun model, as a user would run it.
//   node onnx_run.js run MODEL.onnx INPUTS.f32 OUTPUTS.f32
//       runs the float32 inputs [N, C, H, W] (C, H, W from the model's input)
//       in batches of 1000 and writes the model's only output [N, K] float32;
//       prints the input/output names and shapes and the metadata.
//   node onnx_run.js compare A.f32 B.f32 K
//       prints "rows R argmax_agree M max_abs_diff D" for two [R, K] files.
'use strict';
const fs = require('fs');

function floats(path) {
  const b = fs.readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.length / 4);
}

function argmax(a, off, k) {
  let best = 0;
  for (let j = 1; j < k; j++) if (a[off + j] > a[off + best]) best = j;
  return best;
}

async function run(modelPath, inPath, outPath) {
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(modelPath);
  const shape = session.inputMetadata[0].shape;   // ['N', C, H, W]
  const [c, h, w] = shape.slice(1);
  const x = floats(inPath);
  const per = c * h * w, n = x.length / per;
  const chunks = [];
  let k = 0;
  for (let first = 0; first < n; first += 1000) {
    const m = Math.min(1000, n - first);
    const feeds = {};
    feeds[session.inputNames[0]] =
        new ort.Tensor('float32', x.subarray(first * per, (first + m) * per), [m, c, h, w]);
    const result = await session.run(feeds);
    const y = result[session.outputNames[0]];
    k = y.dims[1];
    chunks.push(Buffer.from(y.data.buffer, y.data.byteOffset, y.data.byteLength));
  }
  fs.writeFileSync(outPath, Buffer.concat(chunks));
  const outShape = session.outputMetadata[0].shape;
  console.log(`input ${session.inputNames.join(',')} [${shape}] output ` +
              `${session.outputNames.join(',')} [${outShape}] images ${n} classes ${k}`);
}

function compare(aPath, bPath, k) {
  const a = floats(aPath), b = floats(bPath);
  if (a.length !== b.length) throw new Error(`${aPath}: ${a.length} values, ${bPath}: ${b.length}`);
  const rows = a.length / k;
  let agree = 0, maxDiff = 0;
  for (let r = 0; r < rows; r++) {
    if (argmax(a, r * k, k) === argmax(b, r * k, k)) agree++;
    for (let j = 0; j < k; j++) {
      const d = Math.abs(a[r * k + j] - b[r * k + j]);
      if (!(d <= maxDiff)) maxDiff = d;   // NaN propagates
    }
  }
  console.log(`rows ${rows} argmax_agree ${agree} max_abs_diff ${maxDiff}`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'run' && args.length === 3) {
  run(...args).catch((e) => { console.error(`onnx_run: error: ${e.message}`); process.exit(1); });
} else if (cmd === 'compare' && args.length === 3) {
  compare(args[0], args[1], Number(args[2]));
} else {
  console.error('usage: node onnx_run.js run MODEL.onnx IN.f32 OUT.f32 | compare A.f32 B.f32 K');
  process.exit(2);
}
