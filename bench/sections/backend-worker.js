// One recording backend in a worker of its own, so that neither backend's calls shape the JIT's view
// of the other's (in rtlat each histogram field only ever holds one class). It warms up once, then
// answers each message with the ns per sample of one round.
import { parentPort, workerData } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { newHistogram } from '../../dist/engine/histogram.js';

/** @type {{ wasm: boolean, values: Float64Array, periodNs: number }} */
const { wasm, values, periodNs } = workerData;

/** rtlat's three histograms per thread (src/engine/histogram.ts); the wasm ones with the same parameters. */
function recorderHistograms() {
  if (!wasm) return [newHistogram('cumulative'), newHistogram('cumulative'), newHistogram('interval')];
  /** @param {64 | 32} bitBucketSize */
  const build = (bitBucketSize) =>
    hdr.build({ bitBucketSize, autoResize: true, lowestDiscernibleValue: 1, numberOfSignificantValueDigits: 3, useWebAssembly: true });
  return [build(64), build(64), build(32)];
}

/** What ThreadRecorder.record does with histograms, for every value; ns per sample. */
function timeRound() {
  const [raw, corrected, interval] = recorderHistograms();
  if (!raw || !corrected || !interval) throw new Error('backend: histograms not built');
  const startNs = process.hrtime.bigint();
  for (let i = 0; i < values.length; i++) {
    const value = /** @type {number} */ (values[i]);
    raw.recordValue(value);
    corrected.recordValueWithExpectedInterval(value, periodNs);
    interval.recordValue(value);
  }
  const elapsedNs = Number(process.hrtime.bigint() - startNs);
  if (raw.totalCount !== values.length) throw new Error(`backend: recorded ${raw.totalCount} of ${values.length}`);
  // Wasm histograms live outside the JS heap: only destroy() frees them.
  for (const histogram of [raw, corrected, interval]) histogram.destroy();
  return elapsedNs / values.length;
}

if (!parentPort) throw new Error('backend-worker.js runs as a worker of sections/backend.js');
const port = parentPort;
if (wasm) await hdr.initWebAssembly();
timeRound();
port.on('message', () => port.postMessage(timeRound()));
port.postMessage('ready');
