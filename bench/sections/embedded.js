// 5. The embedded cost: what a probe costs inside a running service is measured by bench/service/
// (the probe issue); RESULTS.md links to it rather than repeating it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { text } from '../lib/report.js';

/** @typedef {import('../lib/report.js').Section} Section */

const SERVICE = new URL('../service/', import.meta.url);

/** @returns {Section} */
export function embeddedSection() {
  // Links are relative to bench/RESULTS.md.
  const target = ['RESULTS.md', 'README.md'].find((name) => existsSync(fileURLToPath(new URL(name, SERVICE))));
  const link = target ? `[service/${target}](service/${target})` : '[service/](service/)';
  return {
    title: '5. Embedded cost',
    blocks: [
      text(
        `The cost of a probe embedded in a running Node service (startProbe) is measured by its own benchmark in ` +
          `bench/service/, from the probe issue: see ${link}.${target ? '' : ' (Not present in this tree yet.)'}`,
      ),
    ],
    targets: [],
    commands: [],
  };
}
