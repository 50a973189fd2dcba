// The error types every layer throws. The CLI turns them into one line and an exit code
// (src/cli/exit.ts); the library lets callers tell a bad option from a refused privilege.

/** An option has a value that is not accepted. Its message names the option, what was given and what is accepted. */
export class OptionError extends RangeError {
  readonly option: string;
  readonly given: string;

  constructor(option: string, given: unknown, accepted: string) {
    const shown = typeof given === 'string' ? JSON.stringify(given) : String(given);
    super(`${option}: got ${shown}, expected ${accepted}`);
    this.name = 'OptionError';
    this.option = option;
    this.given = shown;
  }
}

/** The kernel refused what a measurement needs (RT policy, memory locking, DMA latency) and degraded runs were not allowed. */
export class PrivilegeError extends Error {
  readonly refusals: readonly string[];

  constructor(message: string, refusals: readonly string[]) {
    super(message);
    this.name = 'PrivilegeError';
    this.refusals = refusals;
  }
}

/** The probe cannot run here at all (not Linux, or the addon did not load). */
export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformError';
  }
}

/** An input file is not what it should be. Its message names the file and the field, what was given and what is accepted. */
export class InputError extends Error {
  readonly file: string;

  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'InputError';
    this.file = file;
  }
}
