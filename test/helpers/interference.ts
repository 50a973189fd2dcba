// Known causes of latency, injected for the explain tests: a real-time thread running short bursts
// above the measuring thread's priority, and loopback network traffic whose softirqs run on the
// measured CPU. Both are bounded: they end after `seconds`, or as soon as the test process is gone.
// Neither writes to the test process while it runs: a test blocked in spawnSync reads no pipe, and a
// burst that waited on a full one would not run (a pipe of Node's fills after a few hundred lines).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { scratchDir } from './cli.js';

export interface Injected {
  pid: number;
  /** The comm the trace shows for it. */
  comm: string;
  /** When it ran, as [start, end] on CLOCK_MONOTONIC in ns, for those that say (the bursts); filled by stop(). */
  ran: [number, number][];
  /** Resolves when it has started its bursts or its traffic. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

// Waits for "ready" on stdout, so that the measurement starts under the load and not before it. The
// script's last argument is a file for its "ran START END" lines, read when it has stopped.
function start(script: string, args: string[], comm: string): Injected {
  const ranFile = path.join(scratchDir(), 'ran');
  const child: ChildProcess = spawn('python3', ['-c', script, ...args, ranFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ran: [number, number][] = [];
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`${comm} ended before it was ready (exit code ${code})`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    pid: child.pid!,
    comm,
    ran,
    ready,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      if (!existsSync(ranFile)) return;
      for (const match of readFileSync(ranFile, 'utf8').matchAll(/^ran (\d+) (\d+)$/gm)) ran.push([Number(match[1]), Number(match[2])]);
    },
  };
}

const BURSTS = `
import os, sys, time
cpu, priority, burst_us, every_ms, seconds, parent = map(int, sys.argv[1:7])
ran = open(sys.argv[7], 'w', buffering=1)
open('/proc/self/comm', 'w').write('rtlat-burst')
os.sched_setaffinity(0, {cpu})
os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
print('ready', flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end and os.getppid() == parent:
    started = time.monotonic_ns()
    spin_until = time.perf_counter() + burst_us / 1e6
    while time.perf_counter() < spin_until:
        pass
    print('ran', started, time.monotonic_ns(), file=ran)
    time.sleep(every_ms / 1e3)
`;

/** A SCHED_FIFO thread on `cpu` spinning `burstUs` every `everyMs`, for `seconds` at most. */
export function realTimeBursts(options: { cpu: number; priority: number; burstUs: number; everyMs: number; seconds: number }): Injected {
  const { cpu, priority, burstUs, everyMs, seconds } = options;
  return start(BURSTS, [cpu, priority, burstUs, everyMs, seconds, process.pid].map(String), 'rtlat-burst');
}

const TRAFFIC = `
import os, socket, sys, threading, time
cpu, seconds, parent = map(int, sys.argv[1:4])
open('/proc/self/comm', 'w').write('rtlat-traffic')
os.sched_setaffinity(0, {cpu})
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 0))
port = server.getsockname()[1]
def receive():
    while True:
        server.recv(65536)
threading.Thread(target=receive, daemon=True).start()
sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload = b'x' * 1400
print('ready', flush=True)
end = time.monotonic() + seconds
while time.monotonic() < end and os.getppid() == parent:
    for _ in range(64):
        sender.sendto(payload, ('127.0.0.1', port))
`;

/** UDP over loopback from a process pinned to `cpu`: its NET_RX softirqs run there. For `seconds` at most. */
export function loopbackTraffic(options: { cpu: number; seconds: number }): Injected {
  return start(TRAFFIC, [options.cpu, options.seconds, process.pid].map(String), 'rtlat-traffic');
}
