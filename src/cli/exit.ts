// The one error funnel of the CLI: every failure becomes one line on stderr and a documented exit code.
import { CommanderError } from 'commander';
import { InputError, OptionError, PlatformError, PrivilegeError } from '../errors.js';
import { OutputError } from '../outputs/atomic-file.js';

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  privileges: 3,
  breaktrace: 4,
  /** --fail-above, --fail-on-dropped, --fail-on-degraded: the run broke a rule (every output is written). */
  verdict: 5,
  /** A pipe's reader went away (`| head`): the status of a Unix tool that SIGPIPE ended (128 + 13). */
  pipeClosed: 141,
} as const;

/** A mistake in how rtlat was called, found by the CLI itself. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Prints one line for `error` and returns the exit code; `command` is '' for the top level. */
export function reportError(command: string, error: unknown): number {
  const prefix = command ? `rtlat ${command}` : 'rtlat';
  const say = (line: string) => process.stderr.write(`${prefix}: ${line}\n`);
  if (error instanceof OptionError) {
    say(`--${error.message}`);
    return EXIT.usage;
  }
  if (error instanceof UsageError || error instanceof InputError) {
    say(error.message);
    return EXIT.usage;
  }
  if (error instanceof CommanderError) {
    say(`${error.message.replace(/^error: /, '').split('\n')[0]} (see ${prefix} --help)`);
    return EXIT.usage;
  }
  if (error instanceof OutputError) {
    // Nobody is reading any more: nothing to say, as for a tool that SIGPIPE ends.
    if (error.code === 'EPIPE') return EXIT.pipeClosed;
    say(error.message);
    return EXIT.failure;
  }
  if (error instanceof PrivilegeError || error instanceof PlatformError) {
    process.stderr.write(`${error.message}\n`);
    return error instanceof PrivilegeError ? EXIT.privileges : EXIT.failure;
  }
  const message = error instanceof Error ? error.message : String(error);
  say(message.split('\n')[0]!);
  if (process.env.RTLAT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return EXIT.failure;
}
