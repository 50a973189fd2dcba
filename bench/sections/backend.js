// The recording backend: hdr-histogram-js in plain JS (what rtlat uses) against its WebAssembly build,
// each in a worker of its own, recording what ThreadRecorder records per sample. Wasm histograms live
// outside the JS heap and must be destroyed by hand, so wasm would have to be clearly faster to be worth it.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { fixed, median, table, text } from '../lib/report.js';

/** @typedef {import('../lib/context.js').BenchContext} BenchContext */
/** @typedef {import('../lib/report.js').Section} Section */

const SAMPLES = { full: 2_000_000, quick: 500_000 };
const ROUNDS = 5;
const PERIOD_NS = 50_000;
const HDR_VERSION = /** @type {{ version: string }} */ (createRequire(import.meta.url)('hdr-histogram-js/package.json')).version;

/**
 * Latencies shaped like a guest's at 50us, in ns: mostly 8-20us, one in a hundred up to 200us, one in
 * ten thousand up to 2ms. A fixed generator keeps every run recording the same values.
 * @param {number} count
 */
function latencies(count) {
  const values = new Float64Array(count);
  let state = 0x2545f491;
  const next = () => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  for (let i = 0; i < count; i++) {
    const tail = next();
    const span = tail < 1e-4 ? 2_000_000 : tail < 1e-2 ? 200_000 : 12_000;
    values[i] = Math.round(8_000 + next() * span);
  }
  return values;
}

/** A worker recording with one backend; resolves once it has warmed up. @param {boolean} wasm @param {Float64Array} values */
async function startBackend(wasm, values) {
  const worker = new Worker(new URL('./backend-worker.js', import.meta.url), { workerData: { wasm, values, periodNs: PERIOD_NS } });
  // once() rejects if the worker fails first.
  const [ready] = await once(worker, 'message');
  if (ready !== 'ready') throw new Error(`backend: the ${wasm ? 'wasm' : 'js'} worker said ${String(ready)}`);
  return {
    /** ns per sample of one more round */
    async round() {
      const reply = once(worker, 'message');
      worker.postMessage('round');
      const [nsPerSample] = await reply;
      return /** @type {number} */ (nsPerSample);
    },
    stop: () => worker.terminate(),
  };
}

/**
 * @param {BenchContext} context
 * @returns {Promise<Section>}
 */
export async function backendSection(context) {
  const count = context.settings.quick ? SAMPLES.quick : SAMPLES.full;
  context.progress(`recording backend: ${count} samples into JS and wasm histograms, ${ROUNDS} rounds each`);
  const values = latencies(count);
  const js = await startBackend(false, values);
  const wasm = await startBackend(true, values);
  /** @type {{ js: number[], wasm: number[] }} */
  const times = { js: [], wasm: [] };
  try {
    // Alternating rounds, so that a change in the machine's load falls on both.
    for (let round = 0; round < ROUNDS; round++) {
      times.js.push(await js.round());
      times.wasm.push(await wasm.round());
    }
  } finally {
    await Promise.all([js.stop(), wasm.stop()]);
  }
  const jsNs = median(times.js);
  const wasmNs = median(times.wasm);
  const verdict =
    wasmNs < jsNs
      ? `WebAssembly records ${fixed(jsNs / wasmNs)}x faster here (${fixed(jsNs - wasmNs, 0)} ns less per sample). So rtlat ` +
        'records into WebAssembly histograms on the hot path (src/engine/recorder.ts), which owns them, hands out plain JS ' +
        'copies (snapshots, intervals, final views) and destroys them when the run ends.'
      : `Plain JS records ${fixed(wasmNs / jsNs)}x faster here: every record crosses from JS into wasm, which costs more ` +
        'than the record itself: rtlat should record with the plain JS backend (src/engine/histogram.ts).';
  return {
    title: '6. Recording backend: JS or WebAssembly',
    blocks: [
      text(
        `${count} latencies (mostly 8-20us, with a tail to 2ms) recorded per round as ThreadRecorder does: recordValue, ` +
          `recordValueWithExpectedInterval(${PERIOD_NS / 1000}us) and an interval recordValue; hdr-histogram-js ` +
          `${HDR_VERSION}, 3 significant digits, auto-resizing. Each backend runs in a worker of its own (a JIT warmed by ` +
          `one backend's calls would misjudge the other's); median of ${ROUNDS} alternating rounds after a warm-up round. ` +
          'Every wasm histogram is destroyed after its round.',
      ),
      table(
        ['backend', 'ns per sample', 'rounds (ns)'],
        [
          ['js', fixed(jsNs, 1), times.js.map((value) => fixed(value, 0)).join(' ')],
          ['wasm', fixed(wasmNs, 1), times.wasm.map((value) => fixed(value, 0)).join(' ')],
        ],
      ),
      text(verdict),
    ],
    targets: [],
    commands: [],
  };
}
