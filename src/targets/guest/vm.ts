// One QEMU process: started paused, its console (ttyS0) on stdout, the guest's channel (ttyS1) and
// QMP on Unix sockets this side listens on before QEMU starts (QEMU connects to them, so there is no
// race with their creation). Nothing outlives kill(): QEMU gets SIGKILL and is waited for.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { findExecutable } from './contents.js';

export type Accelerator = 'kvm' | 'tcg';

export interface VmConfig {
  qemu: string;
  /** A Linux kernel, or a multiboot kernel such as Xen (then `initrd` names its modules: multibootModules()). */
  kernel: string;
  initrd: string;
  /** The kernel's command line: linuxCommandLine() for a Linux guest. */
  commandLine: string;
  accelerator: Accelerator;
  /** QEMU's CPU model; by default the host's under KVM, the most TCG can emulate otherwise. */
  cpu?: string;
  vcpus: number;
  memoryMiB: number;
  /** Where the sockets go (the run's temporary folder). */
  dir: string;
}

/** A Linux guest's command line: rtlat's own (console on ttyS0, and a panic ends QEMU), then `kernelArgs`. */
export function linuxCommandLine(kernelArgs: readonly string[]): string {
  // panic=-1 with -no-reboot: a guest whose init dies ends QEMU instead of hanging.
  return ['console=ttyS0', 'quiet', 'panic=-1', ...kernelArgs].join(' ');
}

/**
 * QEMU's -initrd for a multiboot kernel: each module's path and command line, comma-separated. QEMU
 * splits at every comma, so neither may hold one.
 */
export function multibootModules(modules: readonly { path: string; args?: string }[]): string {
  return modules
    .map(({ path: file, args }) => {
      const module = args ? `${file} ${args}` : file;
      if (module.includes(',')) throw new Error(`a multiboot module cannot have a comma in its path or arguments: ${module}`);
      return module;
    })
    .join(',');
}

export interface VmExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Lines of console and of QEMU's stderr kept for error messages. */
const TAIL_LINES = 40;
/** QEMU connects to the sockets at start-up, well before this unless it failed. */
const CONNECT_TIMEOUT_MS = 20_000;

/** The QEMU command line for `config` (exported for tests and error messages). */
export function qemuArgs(config: VmConfig, sockets: { channel: string; qmp: string }): string[] {
  const kvm = config.accelerator === 'kvm';
  return [
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    // Threads named for what they run ("CPU 0/KVM"), as top -H and the run file show them.
    '-name', 'rtlat,debug-threads=on',
    // Paused until vCPU threads are pinned: resume() starts the guest.
    '-S',
    '-accel', config.accelerator,
    // Under KVM the guest sees the host's CPU (its TSC and timers); under TCG the most QEMU can emulate.
    '-cpu', config.cpu ?? (kvm ? 'host' : 'max'),
    '-smp', `${config.vcpus}`,
    '-m', `${config.memoryMiB}M`,
    '-kernel', config.kernel,
    '-initrd', config.initrd,
    '-append', config.commandLine,
    '-chardev', 'stdio,id=console,signal=off',
    '-serial', 'chardev:console',
    '-chardev', `socket,id=channel,path=${sockets.channel}`,
    '-serial', 'chardev:channel',
    '-chardev', `socket,id=qmp,path=${sockets.qmp}`,
    '-mon', 'chardev=qmp,mode=control',
  ];
}

/** For error messages: "; the console's last lines: a | b", or that it printed nothing. */
export function consoleTail(lines: readonly string[]): string {
  return lines.length > 0 ? `; the console's last lines: ${lines.map((line) => line.trim()).join(' | ')}` : '; the console printed nothing';
}

export class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  push(chunk: string): void {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop()!;
    this.lines.push(...lines.filter((line) => line.trim() !== ''));
    this.lines.splice(0, Math.max(0, this.lines.length - TAIL_LINES));
  }

  last(count: number): string[] {
    const all = this.partial.trim() ? [...this.lines, this.partial] : this.lines;
    return all.slice(-count);
  }
}

/** Accepts the one connection QEMU makes to a socket of ours. */
function acceptOne(socketPath: string): { connected: Promise<net.Socket>; server: net.Server } {
  const server = net.createServer();
  const connected = new Promise<net.Socket>((resolve, reject) => {
    server.once('connection', (socket) => {
      // A reset when QEMU dies is no news: its exit is what callers watch.
      socket.on('error', () => {});
      server.close();
      resolve(socket);
    });
    server.once('error', reject);
  });
  server.listen(socketPath);
  return { connected, server };
}

/** A QMP session: capabilities negotiated first, then one command at a time, events skipped. */
class Qmp {
  private buffer = '';
  private waiting: { resolve: (value: unknown) => void; reject: (error: Error) => void } | null = null;
  private readonly negotiated: Promise<unknown>;

  constructor(private readonly socket: net.Socket) {
    let greet!: () => void;
    const greeted = new Promise<void>((resolve) => (greet = resolve));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let end: number;
      while ((end = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, end).trim();
        this.buffer = this.buffer.slice(end + 1);
        if (!line) continue;
        const message = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (message.QMP) greet();
        else if (message.event) continue;
        else if (this.waiting) {
          const { resolve, reject } = this.waiting;
          this.waiting = null;
          if (message.error) reject(new Error(`QMP: ${message.error.desc}`));
          else resolve(message.return);
        }
      }
    });
    this.negotiated = greeted.then(() => this.send('qmp_capabilities'));
  }

  private send(command: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(`${JSON.stringify({ execute: command })}\n`);
    });
  }

  /** Never settles if QEMU goes away first: callers race it with QEMU's exit. */
  async execute(command: string): Promise<unknown> {
    await this.negotiated;
    return this.send(command);
  }
}

export class Vm {
  private exit: VmExit | null = null;

  private constructor(
    private readonly child: ChildProcess,
    /** Resolves when QEMU has ended, however it ended. */
    readonly exited: Promise<VmExit>,
    private readonly channel: net.Socket,
    private readonly qmp: Qmp,
    private readonly consoleTail: LineTail,
    private readonly stderrTail: LineTail,
  ) {
    void exited.then((exit) => (this.exit = exit));
  }

  /**
   * Starts QEMU paused, connected to the channel and QMP. `onConsole` gets the console's output and
   * `onChannel` the guest's protocol lines, as they come.
   */
  static async start(config: VmConfig, handlers: { onConsole?: (text: string) => void; onChannel: (text: string) => void }): Promise<Vm> {
    const sockets = { channel: path.join(config.dir, 'channel.sock'), qmp: path.join(config.dir, 'qmp.sock') };
    const channel = acceptOne(sockets.channel);
    const qmp = acceptOne(sockets.qmp);
    const args = qemuArgs(config, sockets);
    // QEMU dies with rtlat, even when rtlat is killed with SIGKILL: setpriv (util-linux) gives it a
    // parent-death signal before exec'ing it.
    const setpriv = findExecutable('setpriv', ['/usr/bin', '/bin']);
    const child = setpriv
      ? spawn(setpriv, ['--pdeathsig', 'SIGKILL', '--', config.qemu, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(config.qemu, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const consoleTail = new LineTail();
    const stderrTail = new LineTail();
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      consoleTail.push(text);
      handlers.onConsole?.(text);
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => stderrTail.push(text));
    // 'close' rather than 'exit': by then QEMU's last words on stderr have been read.
    const exited = new Promise<VmExit>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));

    const failed = new Promise<never>((_, reject) => {
      child.once('error', (error) => reject(new Error(`could not start ${config.qemu}: ${error.message}`)));
      void exited.then(({ code, signal }) =>
        reject(new Error(`QEMU exited at start (${signal ?? `code ${code}`}): ${stderrTail.last(1)[0] ?? 'no message'}`)),
      );
    });
    failed.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`QEMU did not connect to its sockets within ${CONNECT_TIMEOUT_MS / 1000}s`)), CONNECT_TIMEOUT_MS);
    });
    try {
      const [channelSocket, qmpSocket] = await Promise.race([Promise.all([channel.connected, qmp.connected]), failed, timedOut]);
      channelSocket.setEncoding('utf8').on('data', handlers.onChannel);
      return new Vm(child, exited, channelSocket, new Qmp(qmpSocket), consoleTail, stderrTail);
    } catch (error) {
      channel.server.close();
      qmp.server.close();
      if (child.pid !== undefined) {
        child.kill('SIGKILL');
        await exited;
      }
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** A QMP command, or an Error saying why QEMU ended if it does first. */
  private command(name: string): Promise<unknown> {
    return Promise.race([
      this.qmp.execute(name),
      this.exited.then(({ code, signal }) => {
        throw new Error(`QEMU exited (${signal ?? `code ${code}`}): ${this.stderrTail.last(1)[0] ?? 'no message'}`);
      }),
    ]);
  }

  /** The host thread of each vCPU, in vCPU order (QMP query-cpus-fast). */
  async vcpuThreads(): Promise<number[]> {
    const cpus = (await this.command('query-cpus-fast')) as { 'cpu-index': number; 'thread-id': number }[];
    return cpus.sort((a, b) => a['cpu-index'] - b['cpu-index']).map((cpu) => cpu['thread-id']);
  }

  /** Every thread of the QEMU process right now. */
  threads(): number[] {
    try {
      return readdirSync(`/proc/${this.pid}/task`).map(Number);
    } catch {
      return [];
    }
  }

  async resume(): Promise<void> {
    await this.command('cont');
  }

  /** Writes to the guest's ttyS1. */
  send(text: string): void {
    if (this.running) this.channel.write(text);
  }

  /** The last lines of the guest's console, or of QEMU's own messages when the console is silent. */
  lastLines(count: number): string[] {
    const console = this.consoleTail.last(count);
    return console.length > 0 ? console : this.stderrTail.last(count);
  }

  /** Ends QEMU at once (SIGKILL) and waits for it. */
  async kill(): Promise<VmExit> {
    if (this.running) this.child.kill('SIGKILL');
    this.channel.destroy();
    return this.exited;
  }
}
