// Which cyclictest rtlat speaks as. Two dialects of output: rt-tests 2.4 to 2.6 (Debian 12 has 2.4)
// print every histogram bucket and a "# Total:" line; 2.7 and later (src/lib/histogram.c) leave out
// empty buckets and the totals, and end "# Thread N: " with a space. Smaller differences follow the
// release too: 2.4 pins every thread even without -a, 2.8 added --deepest-idle-state and rewrapped its
// help, 2.10 dropped nothing a user sees.

export interface CyclictestVersion {
  /** rt-tests 2.<minor>. */
  minor: number;
  /** As cyclictest prints it, printf("%1.2f") of its VERSION: "2.40", "2.70", "2.10". */
  printed: string;
  /** The histogram and JSON of 2.7 and later (empty buckets omitted, no "# Total:"). */
  histogramLibrary: boolean;
  /** 2.4 pins threads round-robin when -a is not given. */
  pinsWithoutAffinity: boolean;
  /** The help text of 2.8 and later (--deepest-idle-state, the rewrapped -a). */
  newHelp: boolean;
}

export const OLDEST_MINOR = 4;
export const NEWEST_MINOR = 10;

export function cyclictestVersion(minor: number): CyclictestVersion {
  return {
    minor,
    printed: minor < 10 ? `2.${minor}0` : `2.${minor}`,
    histogramLibrary: minor >= 7,
    pinsWithoutAffinity: minor <= 4,
    newHelp: minor >= 8,
  };
}

/** "2.4", "2.40" (as cyclictest prints it), "2.7", "2.10"; undefined or '' gives the newest. */
export function parseCyclictestVersion(text: string | undefined): CyclictestVersion {
  if (text === undefined || text === '') return cyclictestVersion(NEWEST_MINOR);
  const match = /^2\.(\d{1,2})$/.exec(text.trim());
  let minor = match ? Number(match[1]) : NaN;
  // "2.40" is how 2.4 prints itself; "2.10" is 2.10.
  if (match && /^[4-9]0$/.test(match[1]!)) minor /= 10;
  if (!(minor >= OLDEST_MINOR && minor <= NEWEST_MINOR)) {
    throw new Error(`got "${text}", expected a cyclictest version from 2.${OLDEST_MINOR} to 2.${NEWEST_MINOR}, e.g. 2.4 (Debian 12) or 2.${NEWEST_MINOR}`);
  }
  return cyclictestVersion(minor);
}
