// HdrHistogram's reference Java HistogramLogProcessor (Debian's libhdrhistogram-java), for tests that
// check rtlat's logs against the tool everyone else reads them with.
import { execFileSync } from 'node:child_process';
import { commandRuns, firstExisting, requireTool } from './tools.js';

const JAR = firstExisting(['/usr/share/java/hdrhistogram.jar', '/usr/share/java/HdrHistogram.jar']);

export const java = requireTool(
  'java and libhdrhistogram-java',
  JAR !== null && commandRuns('java', ['-XX:-UsePerfData', '-version']),
  'apt-get install default-jre-headless libhdrhistogram-java',
);

export function processor(file: string, args: string[]): string {
  // -XX:-UsePerfData: no /tmp/hsperfdata_USER/PID (Java puts it there whatever TMPDIR says).
  return execFileSync('java', ['-XX:-UsePerfData', '-cp', JAR!, 'org.HdrHistogram.HistogramLogProcessor', '-i', file, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
}

/** The CSV percentile distribution: [value, percentile (0..1), total count]. */
export function csvRows(output: string): [number, number, number][] {
  return output
    .split('\n')
    .filter((line) => /^\d/.test(line))
    .map((line) => {
      const [value, percentile, count] = line.split(',');
      return [Number(value), Number(percentile), Number(count)];
    });
}
