// cyclictest's --help, as each release prints it (rt-tests 2.4's is test/fixtures/cyclictest/help.txt; 2.8
// rewrapped -a and added --deepest-idle-state). Harnesses grep it for options, so it is cyclictest's own
// text; rtlat's additions (--cyclictest-version, --rtlat-json, --rtlat-hdr-log) are in the README.
import type { CyclictestVersion } from '../../cyclictest/version.js';

/** The lines after the version line, as rt-tests 2.4 to 2.7 print them. */
const HELP_2_4: readonly string[] = [
  'Usage:',
  'cyclictest <options>',
  '',
  '-a [CPUSET] --affinity     Run thread #N on processor #N, if possible, or if CPUSET',
  '                           given, pin threads to that set of processors in round-',
  '                           robin order.  E.g. -a 2 pins all threads to CPU 2,',
  '                           but -a 3-5,0 -t 5 will run the first and fifth',
  '                           threads on CPU (0),thread #2 on CPU 3, thread #3',
  '                           on CPU 4, and thread #5 on CPU 5.',
  '-A USEC  --aligned=USEC    align thread wakeups to a specific offset',
  '-b USEC  --breaktrace=USEC send break trace command when latency > USEC',
  '-c CLOCK --clock=CLOCK     select clock',
  '                           0 = CLOCK_MONOTONIC (default)',
  '                           1 = CLOCK_REALTIME',
  '         --default-system  Don\'t attempt to tune the system from cyclictest.',
  '                           Power management is not suppressed.',
  '                           This might give poorer results, but will allow you',
  '                           to discover if you need to tune the system',
  '-d DIST  --distance=DIST   distance of thread intervals in us, default=500',
  '-D       --duration=TIME   specify a length for the test run.',
  '                           Append \'m\', \'h\', or \'d\' to specify minutes, hours or days.',
  '-F       --fifo=<path>     create a named pipe at path and write stats to it',
  '-h       --histogram=US    dump a latency histogram to stdout after the run',
  '                           US is the max latency time to be tracked in microseconds',
  '\t\t\t   This option runs all threads at the same priority.',
  '-H       --histofall=US    same as -h except with an additional summary column',
  '\t --histfile=<path> dump the latency histogram to <path> instead of stdout',
  '-i INTV  --interval=INTV   base interval of thread in us default=1000',
  '         --json=FILENAME   write final results into FILENAME, JSON formatted',
  '\t --laptop\t   Save battery when running cyclictest',
  '\t\t\t   This will give you poorer realtime results',
  '\t\t\t   but will not drain your battery so quickly',
  '         --latency=PM_QOS  power management latency target value',
  '                           This value is written to /dev/cpu_dma_latency',
  '                           and affects c-states. The default is 0',
  '-l LOOPS --loops=LOOPS     number of loops: default=0(endless)',
  '         --mainaffinity=CPUSET',
  '\t\t\t   Run the main thread on CPU #N. This only affects',
  '                           the main thread and not the measurement threads',
  '-m       --mlockall        lock current and future memory allocations',
  '-M       --refresh_on_max  delay updating the screen until a new max',
  '\t\t\t   latency is hit. Useful for low bandwidth.',
  '-N       --nsecs           print results in ns instead of us (default us)',
  '-o RED   --oscope=RED      oscilloscope mode, reduce verbose output by RED',
  '-p PRIO  --priority=PRIO   priority of highest prio thread',
  '\t --policy=NAME     policy of measurement thread, where NAME may be one',
  '                           of: other, normal, batch, idle, fifo or rr.',
  '\t --priospread      spread priority levels starting at specified value',
  '-q       --quiet           print a summary only on exit',
  '-r       --relative        use relative timer instead of absolute',
  '-R       --resolution      check clock resolution, calling clock_gettime() many',
  '                           times.  List of clock_gettime() values will be',
  '                           reported with -X',
  '         --secaligned [USEC] align thread wakeups to the next full second',
  '                           and apply the optional offset',
  '-s       --system          use sys_nanosleep and sys_setitimer',
  '-S       --smp             Standard SMP testing: options -a -t and same priority',
  '                           of all threads',
  '\t--spike=<trigger>  record all spikes > trigger',
  '\t--spike-nodes=[num of nodes]',
  '\t\t\t   These are the maximum number of spikes we can record.',
  '\t\t\t   The default is 1024 if not specified',
  '         --smi             Enable SMI counting',
  '-t       --threads         one thread per available processor',
  '-t [NUM] --threads=NUM     number of threads:',
  '                           without NUM, threads = max_cpus',
  '                           without -t default = 1',
  '         --tracemark       write a trace mark when -b latency is exceeded',
  '-u       --unbuffered      force unbuffered output for live processing',
  '-v       --verbose         output values on stdout for statistics',
  '                           format: n:c:v n=tasknum c=count v=value in us',
  '\t --dbg_cyclictest  print info useful for debugging cyclictest',
  '-x\t --posix_timers    use POSIX timers instead of clock_nanosleep.',
];

/** 2.8's -a paragraph, which replaces 2.4's six lines. */
const AFFINITY_2_8: readonly string[] = [
  '-a [CPUSET] --affinity     Run thread #N on processor #N, if possible,',
  '                           or if CPUSET given, pin threads to that set of',
  '                           processors in round-robin order.',
  '                           E.g. -a 2 pins all threads to CPU 2, but',
  '                           -a 3-5,0 -t 5 will run the first and fifth threads',
  '                           on CPU 0, the second thread on CPU 3,',
  '                           the third thread on CPU 4,',
  '                           and the fourth thread on CPU 5.',
];

/** 2.8's --deepest-idle-state, after -c's lines. */
const DEEPEST_IDLE_STATE_2_8: readonly string[] = [
  '         --deepest-idle-state=n',
  '                           Reduce exit from idle latency by limiting idle state',
  '                           up to n on used cpus (-1 disables all idle states).',
  '                           Power management is not suppresed on other cpus.',
];

/** What `cyclictest --help` prints for this version. */
export function cyclictestHelp(version: CyclictestVersion): string {
  let lines = [...HELP_2_4];
  if (version.newHelp) {
    const affinity = lines.findIndex((line) => line.startsWith('-a [CPUSET]'));
    lines.splice(affinity, 6, ...AFFINITY_2_8);
    const afterClock = lines.findIndex((line) => line.includes('1 = CLOCK_REALTIME')) + 1;
    lines.splice(afterClock, 0, ...DEEPEST_IDLE_STATE_2_8);
  }
  return `cyclictest V ${version.printed}\n${lines.join('\n')}\n`;
}
