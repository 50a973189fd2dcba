// `rtlat import cyclictest FILE`: a cyclictest --json file as an rtlat run file.
import { Command } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { runFileText } from '../outputs/run-json.js';
import { importCyclictestJson } from '../import/cyclictest.js';
import { readText } from '../run-file/read.js';
import { RTLAT_VERSION } from '../version.js';
import { reportError, UsageError } from './exit.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { writeStdout } from './stdout.js';

const SOURCES = ['cyclictest'];

export function importCommand(): Command {
  return new Command('import')
    .description('Turn another tool\'s results into an rtlat run file (today: cyclictest --json).')
    .argument('<source>', `the tool that wrote FILE (${SOURCES.join(', ')})`)
    .argument('<file>', 'the file it wrote')
    .option('-o, --output <file>', 'write the run file here (default: stdout)')
    .action(async (source: string, file: string, flags: { output?: string }) => {
      try {
        if (!SOURCES.includes(source)) throw new UsageError(`unknown source ${JSON.stringify(source)}: rtlat imports ${SOURCES.join(', ')}`);
        const output = flags.output === undefined ? null : checkOutputPath('output', flags.output);
        let text: string;
        try {
          text = readText(file);
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        let json: string;
        try {
          json = runFileText(importCyclictestJson(text, { rtlatVersion: RTLAT_VERSION }));
        } catch (error) {
          throw new UsageError(`${file}: ${(error as Error).message}`);
        }
        if (output) writeFileAtomic(output, json);
        else await writeStdout(json);
      } catch (error) {
        process.exitCode = reportError('import', error);
      }
    });
}
