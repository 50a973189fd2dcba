// What compare, merge and report share on the command line: reading run files, labelling them.
import { labelRuns, type LabeledRun } from '../run-file/environment.js';
import { readRunFile, type RunInput } from '../run-file/read.js';
import { UsageError } from './exit.js';

/** Reads the run files; a missing or malformed one is a usage error that names it. */
export function readRunFiles(files: readonly string[]): RunInput[] {
  return files.map((file) => {
    try {
      return readRunFile(file);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  });
}

/** Reads and labels the runs: --label, one per file in order, or else their environment. */
export function readLabeledRuns(files: readonly string[], labels: readonly string[]): LabeledRun[] {
  if (labels.length > 0 && labels.length !== files.length) {
    throw new UsageError(`--label: got ${labels.length} for ${files.length} files; give one per file, in the same order`);
  }
  return labelRuns(readRunFiles(files), labels.length > 0 ? labels : undefined);
}
