// stdout for every command. A write that fails ends the command in one line (a full disk behind `>`),
// or silently when the reader went away (`| head`), as Unix tools do; never in Node's "Unhandled
// 'error' event" or a stack trace.
import { OutputError } from '../outputs/atomic-file.js';

let failure: OutputError | null = null;

/** Writes `text` to stdout; rejects with an OutputError naming stdout when it cannot (every later write too). */
export function writeStdout(text: string): Promise<void> {
  if (failure) return Promise.reject(failure);
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (error) => {
      if (!error) return resolve();
      failure ??= new OutputError('stdout', error);
      reject(failure);
    });
  });
}

/**
 * Once, at start: a failed write to stdout or stderr also emits 'error', which would end the process
 * with a stack trace. stdout's failures reach the command through writeStdout; stderr's cannot be told.
 */
export function guardStandardStreams(): void {
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
}
