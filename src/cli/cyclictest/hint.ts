// A cyclictest option given to one of rtlat's own commands: a hint at what rtlat calls it, and at
// `rtlat cyclictest`, rather than a bare "unknown option" or, worse, a silent misreading.
import { CYCLICTEST_SPELLINGS } from '../../cyclictest/index.js';

/** What rtlat measure offers instead, by cyclictest option (short letter or long name). */
const INSTEAD: Record<string, string> = {
  m: 'rtlat locks the measuring threads\' memory by default',
  h: 'rtlat measure keeps its histogram with --histogram N (and help is --help)',
  H: 'rtlat measure keeps its histogram with --histogram N',
  S: 'one thread per CPU is rtlat\'s default',
  c: 'rtlat takes --clock monotonic or realtime',
  i: 'rtlat takes --period (a bare number is us)',
  a: 'rtlat takes --cpus LIST (default: every CPU)',
  t: 'rtlat takes --threads N (default: one per CPU)',
  q: 'rtlat\'s -q only hides the live status; --format cyclictest prints the T: lines',
  mainaffinity: 'rtlat takes --main-cpus LIST',
  secaligned: 'rtlat takes --aligned',
  aligned: 'rtlat\'s --aligned is cyclictest\'s --secaligned',
  policy: 'rtlat takes --policy fifo, rr, other or deadline',
  'default-system': 'rtlat takes --no-dma-latency',
  laptop: 'rtlat takes --no-dma-latency',
};

/**
 * The cyclictest option a commander error is about, as written ("-m", "--interval"), or null. An
 * unknown option that some rtlat command has too (--json, --histogram) is that command's business.
 */
function offendingOption(message: string, rtlatFlags: ReadonlySet<string>): string | null {
  const unknown = /unknown option '(--?[^'=]+)/.exec(message);
  if (unknown) {
    // "-mu": commander names the cluster; cyclictest reads its first letter first.
    const flag = unknown[1]!.startsWith('--') ? unknown[1]! : unknown[1]!.slice(0, 2);
    return rtlatFlags.has(flag) ? null : flag;
  }
  const argument = /option '(-\w)?(?:, )?(--[\w-]+)?[^']*' argument/.exec(message);
  return argument ? (argument[1] ?? argument[2] ?? null) : null;
}

/**
 * A hint for a commander error about a cyclictest option ("unknown option '-m'", "-c 0" not among
 * monotonic/realtime, "-t" without a number), or null when the error is about something else.
 * `rtlatFlags`: every flag of rtlat's own commands.
 */
export function cyclictestHint(message: string, rtlatFlags: ReadonlySet<string>): string | null {
  const flag = offendingOption(message, rtlatFlags);
  const id = flag === null ? undefined : CYCLICTEST_SPELLINGS.get(flag);
  if (flag === null || id === undefined) return null;
  const instead = INSTEAD[id];
  return `${flag} is cyclictest's; ${instead ? `${instead}, or ` : ''}run cyclictest's command line as it is with \`rtlat cyclictest ${flag} ...\``;
}
