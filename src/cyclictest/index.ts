// cyclictest's command line, the one model of it: what `rtlat cyclictest` runs and what
// `rtlat import cyclictest` reads back from a cyclictest --json file. Re-exports only.
export { CYCLICTEST_SPELLINGS, CyclictestExit, parseCyclictestArgs, type CyclictestSettings, type MachineView, type ParseOutcome } from './options.js';
export { parseCyclictestVersion, type CyclictestVersion } from './version.js';
