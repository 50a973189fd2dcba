// glibc's getopt_long, as cyclictest calls it: the same options, the same arguments and the same error
// lines for any argv, so that a harness's command line means to rtlat what it means to cyclictest.
//
// What glibc does and this keeps: short options glued (-qmu, -Sp90) or apart (-p 90); a required
// argument is the rest of the element or else the next element, whatever it looks like (-i -5); an
// optional one (a::) only the rest of the element (-a0, never -a 0); long options with =VALUE or, when
// required, the next element; unambiguous prefixes of long names (--int=200); non-options (an empty
// element, "3500" after -t) skipped and kept apart, unless POSIXLY_CORRECT is set, which stops at the
// first of them; "--" ends the options.

export type ArgumentKind = 'none' | 'required' | 'optional';

export interface LongOption {
  name: string;
  argument: ArgumentKind;
  /** What the option is reported as: a short option's letter when it is the same option, else the name. */
  id: string;
  /** Matched only when spelled out in full (rtlat's own additions, which must not make cyclictest's prefixes ambiguous). */
  exactOnly?: boolean;
}

export interface ParsedOption {
  id: string;
  /** The argument, or null when the option has none (an optional argument not given). */
  argument: string | null;
  /**
   * The argv element right after the option (and its argument): cyclictest peeks at it for -a, -t, -A
   * and --secaligned without consuming it (so "-t 2" means two threads and leaves "2" as a non-option).
   */
  next: string | undefined;
  /** As written, for messages: "-t", "--threads". */
  spelling: string;
}

/** A command line getopt_long rejects; the message is glibc's line without the program name. */
export class GetoptError extends Error {
  override name = 'GetoptError';
}

/** Parses `optstring`'s letters: "a::b:c" -> a optional, b required, c none. */
export function shortOptions(optstring: string): Map<string, ArgumentKind> {
  const options = new Map<string, ArgumentKind>();
  for (let i = 0; i < optstring.length; i++) {
    const letter = optstring[i]!;
    let kind: ArgumentKind = 'none';
    if (optstring[i + 1] === ':') {
      kind = optstring[i + 2] === ':' ? 'optional' : 'required';
      i += kind === 'optional' ? 2 : 1;
    }
    // A letter listed twice (cyclictest's "D:" is) keeps its first declaration, as glibc's strchr does.
    if (!options.has(letter)) options.set(letter, kind);
  }
  return options;
}

/**
 * getopt_long(argv, optstring, longOptions) until it returns -1: yields the options in order and
 * returns the non-options. An error (thrown) comes where getopt_long reports it, after the options
 * before it, so that a caller acting on each option in turn fails where cyclictest would.
 */
export function* getoptLong(
  argv: readonly string[],
  optstring: string,
  longOptions: readonly LongOption[],
  env: NodeJS.ProcessEnv = process.env,
): Generator<ParsedOption, string[]> {
  const shorts = shortOptions(optstring);
  const stopAtOperand = env.POSIXLY_CORRECT !== undefined;
  const operands: string[] = [];
  let index = 0;
  while (index < argv.length) {
    const element = argv[index]!;
    if (element === '--') {
      operands.push(...argv.slice(index + 1));
      break;
    }
    if (!element.startsWith('-') || element === '-') {
      if (stopAtOperand) {
        operands.push(...argv.slice(index));
        break;
      }
      operands.push(element);
      index++;
      continue;
    }
    // A cluster's options before a bad letter (-qz) still come first.
    const parsed: ParsedOption[] = [];
    let failure: unknown = null;
    try {
      index = element.startsWith('--') ? parseLong(argv, index, longOptions, parsed) : parseShortCluster(argv, index, shorts, parsed);
    } catch (error) {
      failure = error;
    }
    yield* parsed;
    if (failure) throw failure;
  }
  return operands;
}

/** Every option of argv, and its non-options (for callers that need them all at once). */
export function getoptAll(argv: readonly string[], optstring: string, longOptions: readonly LongOption[], env: NodeJS.ProcessEnv = process.env): { options: ParsedOption[]; operands: string[] } {
  const options: ParsedOption[] = [];
  const parser = getoptLong(argv, optstring, longOptions, env);
  for (;;) {
    const step = parser.next();
    if (step.done) return { options, operands: step.value };
    options.push(step.value);
  }
}

function parseLong(argv: readonly string[], index: number, longOptions: readonly LongOption[], into: ParsedOption[]): number {
  const element = argv[index]!;
  const body = element.slice(2);
  const equals = body.indexOf('=');
  const name = equals < 0 ? body : body.slice(0, equals);
  const attached = equals < 0 ? null : body.slice(equals + 1);
  const option = findLong(name, element, longOptions);
  let next = index + 1;
  let argument: string | null = null;
  if (option.argument === 'none') {
    if (attached !== null) throw new GetoptError(`option '--${option.name}' doesn't allow an argument`);
  } else if (attached !== null) {
    argument = attached;
  } else if (option.argument === 'required') {
    if (next >= argv.length) throw new GetoptError(`option '--${option.name}' requires an argument`);
    argument = argv[next]!;
    next++;
  }
  into.push({ id: option.id, argument, next: argv[next], spelling: `--${option.name}` });
  return next;
}

/** An exact name, else the one option it is a prefix of (several: ambiguous, as glibc reports it). */
function findLong(name: string, element: string, longOptions: readonly LongOption[]): LongOption {
  const exact = longOptions.find((option) => option.name === name);
  if (exact) return exact;
  const candidates = longOptions.filter((option) => !option.exactOnly && option.name.startsWith(name));
  if (candidates.length === 1) return candidates[0]!;
  if (candidates.length > 1) {
    throw new GetoptError(`option '${element}' is ambiguous; possibilities:${candidates.map((option) => ` '--${option.name}'`).join('')}`);
  }
  throw new GetoptError(`unrecognized option '${element}'`);
}

function parseShortCluster(argv: readonly string[], index: number, shorts: Map<string, ArgumentKind>, into: ParsedOption[]): number {
  const element = argv[index]!;
  for (let at = 1; at < element.length; at++) {
    const letter = element[at]!;
    const kind = shorts.get(letter);
    // ':' is getopt's own marker, never an option.
    if (kind === undefined || letter === ':') throw new GetoptError(`invalid option -- '${letter}'`);
    const rest = element.slice(at + 1);
    if (kind === 'none') {
      // Inside a cluster, optind still points at the cluster itself.
      into.push({ id: letter, argument: null, next: argv[rest === '' ? index + 1 : index], spelling: `-${letter}` });
      continue;
    }
    let next = index + 1;
    let argument: string | null = rest === '' ? null : rest;
    if (argument === null && kind === 'required') {
      if (next >= argv.length) throw new GetoptError(`option requires an argument -- '${letter}'`);
      argument = argv[next]!;
      next++;
    }
    into.push({ id: letter, argument, next: argv[next], spelling: `-${letter}` });
    return next;
  }
  return index + 1;
}
