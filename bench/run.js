// `npm run bench`: rtlat against cyclictest on this machine (fidelity, cost, highest rate, memory,
// recording backend), printed as tables and written to bench/RESULTS.md. See bench/README.md.
// Plain ESM JavaScript, typechecked through JSDoc (bench/tsconfig.json): it runs without a build step
// of its own and measures the package as users get it, from dist/ and the built addon.
import { existsSync } from 'node:fs';

if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
  process.stderr.write('bench: dist/ is missing: build rtlat first (npm run build)\n');
  process.exit(1);
}
const { main } = await import('./lib/main.js');
process.exitCode = await main(process.argv.slice(2));
