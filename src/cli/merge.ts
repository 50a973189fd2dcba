// `rtlat merge A.json B.json -o OUT.json`: runs of one configuration as one run file.
import { statSync } from 'node:fs';
import { Command } from 'commander';
import { OptionError } from '../errors.js';
import { writeRunFile } from '../outputs/run-json.js';
import { mergeRuns, MergeRefused } from '../run-file/merge.js';
import { RTLAT_VERSION } from '../version.js';
import { commandLine } from './command-line.js';
import { reportError, UsageError } from './exit.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { readRunFiles } from './run-files.js';

/** True when both paths name one file (through links, or two spellings of one path). */
function sameFile(a: string, b: string): boolean {
  const [first, second] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return first !== undefined && second !== undefined && first.dev === second.dev && first.ino === second.ino;
}

export function mergeCommand(): Command {
  return new Command('merge')
    .description('Add runs of one configuration (period, policy, clock, load, environment) into one run file; histograms add without loss.')
    .argument('<files...>', 'two or more run files')
    .requiredOption('-o, --output <file>', 'write the merged run file here')
    .action((files: string[], flags: { output: string }) => {
      try {
        const output = checkOutputPath('output', flags.output);
        if (files.length < 2) throw new UsageError(`got ${files.length} run file; merge needs two or more`);
        const inputs = readRunFiles(files);
        const overwritten = files.find((file) => sameFile(file, output));
        if (overwritten !== undefined) throw new OptionError('output', flags.output, `a file other than the inputs (it is ${overwritten})`);
        let merged;
        try {
          merged = mergeRuns(inputs, { rtlatVersion: RTLAT_VERSION, commandLine: commandLine() });
        } catch (error) {
          throw error instanceof MergeRefused ? new UsageError(error.message) : error;
        }
        for (const note of merged.notes) process.stderr.write(`rtlat merge: note: ${note}\n`);
        writeRunFile(output, merged.run);
      } catch (error) {
        process.exitCode = reportError('merge', error);
      }
    });
}
