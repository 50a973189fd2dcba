// rtlat info's last section: where tracefs is, and whether this kernel has the timerlat tracer.
import { availableTracers, findTracefs } from '../trace/tracefs.js';

/**
 * rtlat info's tracing section: where tracefs is, and whether this kernel has the timerlat tracer (rtla
 * timerlat needs it; rtlat measure --explain does not, it reads the standard tracepoints either way).
 */
export function formatTracing(root: string | null = findTracefs()): string {
  const tracers = availableTracers(root);
  const timerlat =
    tracers === null
      ? `unknown (${root === null ? 'tracefs is not mounted: mount -t tracefs nodev /sys/kernel/tracing' : `${root}/available_tracers is not readable`})`
      : tracers.includes('timerlat')
        ? 'available (rtla timerlat runs here)'
        : 'not in this kernel (CONFIG_TIMERLAT_TRACER)';
  const line = (name: string, value: string) => `  ${name.padEnd(24)}${value}`;
  return [
    'tracing',
    line('tracefs', root ?? 'not mounted (rtlat measure --explain mounts it)'),
    line('timerlat tracer', timerlat),
    line('measure --explain', 'reads the sched, irq and irq_vectors tracepoints, timerlat or not'),
    '',
  ].join('\n');
}
