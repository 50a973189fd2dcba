// The grammar of cyclictest's text outputs, for comparing two outputs whose values differ: each line
// becomes its shape (a number becomes "#" and its printed width, except the fields that the command line
// decides, like T:'s thread, P: and I:, which stay as they are), and what repeats a varying number of
// times (live frames, -v samples, --spike lines, JSON histogram entries) is kept once.

/** "   12" -> "#5": a printf field, by its width. */
function width(field: string): string {
  return `#${field.length}`;
}

/** A TID in a field of at least 5: how many digits it has depends on the machine's pid counter, not the tool. */
function tid(field: string): string {
  return field.length >= 5 ? '#5+' : width(field);
}

const SHAPES: [RegExp, (match: RegExpExecArray) => string][] = [
  [
    /^T:( *\d+) \(( *\d+)\) P:( *\d+) I:(\d+) C:( *\d+) Min:( *\d+) Act:( *\d+) Avg:( *\d+) Max:( *\d+)$/,
    (m) => `T:${m[1]} (${tid(m[2]!)}) P:${m[3]} I:${m[4]} C:${width(m[5]!)} Min:${width(m[6]!)} Act:${width(m[7]!)} Avg:${width(m[8]!)} Max:${width(m[9]!)}`,
  ],
  [/^policy: (\S+): loadavg: \d+\.\d\d \d+\.\d\d \d+\.\d\d \d+\/\d+ \d+ {10}$/, (m) => `policy: ${m[1]}: loadavg: <loadavg>          `],
  [/^(\d{6}) (\d{6,}(?:\t\d{6,})*)$/, (m) => `${m[1]} ${m[2]!.split('\t').map(width).join('\t')}`],
  [/^# (Total|Min Latencies|Avg Latencies|Max Latencies|Histogram Overflows):((?: \d+)+)$/, (m) => `# ${m[1]}:${m[2]!.split(' ').slice(1).map((field) => ` ${width(field)}`).join('')}`],
  [/^# Thread Ids:((?: \d+)+)$/, (m) => `# Thread Ids:${m[1]!.split(' ').slice(1).map((field) => ` ${tid(field)}`).join('')}`],
  [/^# Thread (\d+):((?: \d{5,})*(?: # \d{5,} others)?)$/, (m) => `# Thread ${m[1]}:<overflow cycles>`],
  [/^# Break thread: \d+$/, () => '# Break thread: <tid>'],
  [/^# Break value: \d+$/, () => '# Break value: <latency>'],
  [/^T:( *\d+) Spike:( *\d+): TS: ( *\d+)$/, (m) => `T:${width(m[1]!)} Spike:${width(m[2]!)}: TS: ${width(m[3]!)} (repeated)`],
  [/^spikes = \d+$/, () => 'spikes = <count>'],
  [/^( *\d+):( *\d+):( *\d+)$/, (m) => `${width(m[1]!)}:${width(m[2]!)}:${width(m[3]!)} (repeated)`],
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
