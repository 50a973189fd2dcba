// The grammar of cyclictest's text outputs, for comparing two outputs whose values differ: each line
// becomes its shape (a number becomes "#" and its printed width, except the fields that the command line
// decides, like T:'s thread, P: and I:, which stay as they are), and what repeats a varying number of
// times (live frames, -v samples, --spike lines, JSON histogram entries) is kept once.

/**
 * A printf field of minimum width `w` ("%5d", "%05lu") as "#w": exactly w characters, or more when the
 * value needs them (then without padding). A value too wide for its field is a value, not a grammar.
 */
function field(text: string, w: number): string {
  return text.length === w || (text.length > w && !/^[ 0]/.test(text)) ? `#${w}` : `#bad(${JSON.stringify(text)} for %${w})`;
}

/** Fields of one width, separated by `separator`. */
function fields(text: string, w: number, separator: string): string {
  return text.split(separator).map((part) => field(part, w)).join(separator);
}

/** Act and Avg are %5ld, or %8ld with -N: the width a padded one shows (5 when neither is padded). */
function actWidth(act: string, avg: string): number {
  return act.startsWith(' ') ? act.length : avg.startsWith(' ') ? avg.length : 5;
}

const SHAPES: [RegExp, (match: RegExpExecArray) => string][] = [
  [
    /^T:( *\d+) \(( *\d+)\) P:( *\d+) I:(\d+) C:( *\d+) Min:( *\d+) Act:( *\d+) Avg:( *\d+) Max:( *\d+)$/,
    (m) => {
      const a = actWidth(m[7]!, m[8]!);
      return `T:${m[1]} (${field(m[2]!, 5)}) P:${m[3]} I:${m[4]} C:${field(m[5]!, 7)} Min:${field(m[6]!, 7)} Act:${field(m[7]!, a)} Avg:${field(m[8]!, a)} Max:${field(m[9]!, 8)}`;
    },
  ],
  [/^policy: (\S+): loadavg: \d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+ {10}$/, (m) => `policy: ${m[1]}: loadavg: <loadavg>          `],
  [/^(\d{6}) (\d{6,}(?:\t\d{6,})*)$/, (m) => `${m[1]} ${fields(m[2]!, 6, '\t')}`],
  [/^# Total: (\d+(?: \d+)*)$/, (m) => `# Total: ${fields(m[1]!, 9, ' ')}`],
  [/^# (Min Latencies|Avg Latencies|Max Latencies|Histogram Overflows|Thread Ids): (\d+(?: \d+)*)$/, (m) => `# ${m[1]}: ${fields(m[2]!, 5, ' ')}`],
  [/^# Thread (\d+):((?: \d{5,})*(?: # \d{5,} others)?)$/, (m) => `# Thread ${m[1]}:<overflow cycles>`],
  [/^# Break thread: \d+$/, () => '# Break thread: <tid>'],
  [/^# Break value: \d+$/, () => '# Break value: <latency>'],
  [/^T:( *\d+) Spike:( *\d+): TS: ( *\d+)$/, (m) => `T:${field(m[1]!, 2)} Spike:${field(m[2]!, 8)}: TS: ${field(m[3]!, 12)} (repeated)`],
  [/^spikes = \d+$/, () => 'spikes = <count>'],
  [/^( *\d+):( *\d+):( *\d+)$/, (m) => `${field(m[1]!, 8)}:${field(m[2]!, 8)}:${field(m[3]!, 8)} (repeated)`],
  // cyclictest's JSON, when written to stdout (--json=-).
  [/^( +)"\d+": \d+(,?)$/, (m) => `${m[1]}"<bucket>": <count> (repeated)`],
  [/^( +)"(start_time|end_time)": "[^"]*",$/, (m) => `${m[1]}"${m[2]}": <date>,`],
  [/^( +)"(cycles|min|max|avg)": -?\d+(\.\d\d)?,$/, (m) => `${m[1]}"${m[2]}": <number${m[3] ? '.2' : ''}>,`],
];

/** One line's shape: a known cyclictest line with its values blanked, or the line itself. */
export function lineShape(line: string): string {
  for (const [pattern, shape] of SHAPES) {
    const match = pattern.exec(line);
    if (match) return shape(match);
  }
  return line;
}

/**
 * The shape of a whole output: its lines' shapes, live frames folded into one (each frame after the
 * first must start by moving the cursor up over the one before), and repeated lines kept once.
 * Problems with the frames are returned, for the caller to assert empty.
 */
export function outputShape(text: string): { shape: string[]; problems: string[] } {
  const problems: string[] = [];
  const lines = text.split('\n');
  const shape: string[] = [];
  let lastFrame: string | null = null;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    const up = /^\x1b\[(\d+)A/.exec(line);
    if (up) line = line.slice(up[0].length);
    const down = /^\x1b\[(\d+)B/.exec(line);
    if (down) {
      // -M: whether the cursor had moved up already (waiting for a new maximum) when the run ended is timing.
      if (up && up[1] !== down[1]) problems.push(`cursor up ${up[1]} then down ${down[1]} at line ${i}`);
      shape.push(`<cursor down ${down[1]}>`);
      line = line.slice(down[0].length);
      if (line === '' && i === lines.length - 1) break;
    }
    if (line.startsWith('policy: ')) {
      // A frame: the header, a blank line, the T: lines.
      const frame = [lineShape(line)];
      let j = i + 1;
      if (lines[j] !== '') problems.push(`frame at line ${i} lacks its blank line`);
      j++;
      while (j < lines.length && lines[j]!.startsWith('T:')) frame.push(lineShape(lines[j++]!));
      const frameShape = `<frame>${frame.join(' | ')}`;
      if (lastFrame === null && up) problems.push(`the first frame (line ${i}) moves the cursor up`);
      if (lastFrame !== null) {
        if (!up) problems.push(`frame at line ${i} does not move the cursor up`);
        else if (Number(up[1]) !== frame.length + 1) problems.push(`frame at line ${i} moves up ${up[1]} lines, not ${frame.length + 1}`);
      }
      if (frameShape !== lastFrame) shape.push(lastFrame === null ? frameShape : `${frameShape} (changed)`);
      lastFrame = frameShape;
      i = j - 1;
      continue;
    }
    if (up) problems.push(`cursor up outside a frame at line ${i}`);
    const lineShapeText = lineShape(line);
    if (lineShapeText.endsWith('(repeated)') && shape[shape.length - 1] === lineShapeText) continue;
    shape.push(lineShapeText);
  }
  return { shape, problems };
}

/** The keys and value types of a JSON value, with the values that must be equal kept (see `literal`). */
export function jsonShape(value: unknown, literal: (path: string) => boolean, path = ''): unknown {
  if (Array.isArray(value)) return value.map((item, index) => jsonShape(item, literal, `${path}[${index}]`));
  if (value !== null && typeof value === 'object') {
    // Histogram buckets: which ones (if any) is a matter of values; that they are bucket -> count is not.
    if (path.endsWith('.histogram')) {
      const valid = Object.entries(value).every(([key, count]) => /^\d+$/.test(key) && Number.isSafeInteger(count) && (count as number) > 0);
      return valid ? '<bucket -> count>' : value;
    }
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, jsonShape(item, literal, `${path}.${key}`)]));
  }
  return literal(path) ? value : value === null ? 'null' : typeof value;
}
