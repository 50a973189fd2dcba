// `rtlat info`: where rtlat is running, as every result file records it.
import { Command } from 'commander';
import { formatFingerprint, readFingerprint } from '../fingerprint/index.js';
import { formatTracing } from '../outputs/tracing.js';
import { reportError } from './exit.js';
import { writeStdout } from './stdout.js';

export function infoCommand(): Command {
  return new Command('info')
    .description('Show the environment fingerprint: kernel, preemption model, virtualization, timers, CPUs.')
    .option('--json', 'print it as JSON (the run file\'s "environment")')
    .action(async (flags: { json?: boolean }) => {
      try {
        const fingerprint = readFingerprint();
        await writeStdout(flags.json ? `${JSON.stringify(fingerprint, null, 2)}\n` : `${formatFingerprint(fingerprint)}${formatTracing()}`);
      } catch (error) {
        process.exitCode = reportError('info', error);
      }
    });
}
