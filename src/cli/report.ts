// `rtlat report A.json [B.json ...] -o report.html`: one self-contained HTML page to look at and print.
import { Command } from 'commander';
import { writeFileAtomic } from '../outputs/atomic-file.js';
import { renderReport } from '../outputs/report/report.js';
import { RTLAT_VERSION } from '../version.js';
import { reportError } from './exit.js';
import { checkOutputPath } from '../outputs/output-path.js';
import { collect } from './options.js';
import { readLabeledRuns } from './run-files.js';

interface ReportFlags {
  output: string;
  label?: string[];
  title?: string;
}

export function reportCommand(): Command {
  return new Command('report')
    .description('Write an HTML report of run files: comparison, percentile and histogram plots, environments.')
    .argument('<files...>', 'run files; the first is the baseline of the comparison')
    .requiredOption('-o, --output <file>', 'write the HTML here')
    .option('--label <label>', 'name a run, one per file in order (default: its environment)', collect)
    .option('--title <title>', 'the page\'s heading')
    .action((files: string[], flags: ReportFlags) => {
      try {
        const output = checkOutputPath('output', flags.output);
        const runs = readLabeledRuns(files, flags.label ?? []);
        writeFileAtomic(output, renderReport(runs, { title: flags.title, rtlatVersion: RTLAT_VERSION }));
      } catch (error) {
        process.exitCode = reportError('report', error);
      }
    });
}
