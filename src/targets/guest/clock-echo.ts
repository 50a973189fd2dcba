// Run by a guest's init on its second serial port (stdin and stdout) when the host aligns its clock
// with the guest's (rtlat guest --explain-host): answers each "p" with the guest's CLOCK_MONOTONIC, the
// clock rtlat measures and traces on, until "e". Synchronous reads: nothing but the answer in between.
import { readSync, writeSync } from 'node:fs';
import { CLOCK_END, CLOCK_PING, CLOCK_READY, CLOCK_SAMPLE } from './protocol.js';

const byte = Buffer.alloc(1);
writeSync(1, `${CLOCK_READY}\n`);
for (;;) {
  if (readSync(0, byte, 0, 1, null) === 0) break;
  const received = byte.toString('latin1');
  if (received === CLOCK_END) break;
  // process.hrtime reads CLOCK_MONOTONIC (libuv's uv_hrtime).
  if (received === CLOCK_PING) writeSync(1, `${CLOCK_SAMPLE} ${process.hrtime.bigint()}\n`);
}
