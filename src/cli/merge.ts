// `rtlat merge A.json B.json -o OUT.json`: runs of one configuration as one run file.
import { Command } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { mergeRuns, MergeRefused } from '../compare/merge.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { reportError, UsageError } from './errors.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { readRunFiles } from './run-files.js';

export function mergeCommand(): Command {
  return new Command('merge')
    .description('Add runs of one configuration (period, policy, clock, load, environment) into one run file; histograms add without loss.')
    .argument('<files...>', 'two or more run files')
    .requiredOption('-o, --output <file>', 'write the merged run file here')
    .action((files: string[], flags: { output: string }) => {
      try {
        const output = checkOutputPath('output', flags.output);
        if (files.length < 2) throw new UsageError(`<files...>: got ${files.length} file; merge needs two or more`);
        const inputs = readRunFiles(files);
        let merged;
        try {
          merged = mergeRuns(inputs, { rtlatVersion: RTLAT_VERSION, commandLine: commandLine() });
        } catch (error) {
          throw error instanceof MergeRefused ? new UsageError(error.message) : error;
        }
        for (const note of merged.notes) process.stderr.write(`rtlat merge: note: ${note}\n`);
        writeFileAtomic(output, `${JSON.stringify(merged.run, null, 2)}\n`);
      } catch (error) {
        process.exitCode = reportError('merge', error);
      }
    });
}
