// The domU's console as rtlat's channel: the pseudo-terminal xenconsoled (or, for an HVM guest, its device
// model) serves it on, named in xenstore. The guest speaks the same protocol over it as a QEMU guest over
// its ttyS1 (src/guest/protocol.ts), after its init has silenced the kernel's messages there.
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import tty from 'node:tty';
import { LineTail } from '../guest/vm.js';
import { xenstoreRead } from './xl.js';

const TTY_WAIT_MS = 20_000;

export class ConsoleChannel {
  private readonly tail = new LineTail();
  private closed = false;

  /** Settles when the console's backend closes it: the domain is gone (it crashed, or powered off, and was destroyed). */
  readonly ended: Promise<void>;

  private constructor(
    /** Written to with a descriptor of its own: libuv makes the stream's non-blocking. */
    private readonly writeFd: number,
    private readonly stream: tty.ReadStream,
  ) {
    // EIO once the domain is gone and its backend closes the terminal.
    this.ended = new Promise((resolve) => {
      stream.once('error', () => resolve());
      stream.once('end', () => resolve());
    });
  }

  /** Opens domain `id`'s console, waiting for its backend to name its pseudo-terminal. */
  static async open(id: number, onText: (text: string) => void): Promise<ConsoleChannel> {
    const key = `/local/domain/${id}/console/tty`;
    let ttyPath: string | null = null;
    for (const started = Date.now(); Date.now() - started < TTY_WAIT_MS; await new Promise((resolve) => setTimeout(resolve, 200))) {
      ttyPath = xenstoreRead(key);
      if (ttyPath) break;
    }
    if (!ttyPath) throw new Error(`domain ${id}'s console has no pseudo-terminal (${key} is not in xenstore after ${TTY_WAIT_MS / 1000}s): is xenconsoled running?`);
    const stream = new tty.ReadStream(openSync(ttyPath, constants.O_RDWR | constants.O_NOCTTY));
    // Raw: no echo of the guest's own output back into it, no line editing of the protocol.
    stream.setRawMode(true);
    const channel = new ConsoleChannel(openSync(ttyPath, constants.O_WRONLY | constants.O_NOCTTY), stream);
    stream.setEncoding('utf8');
    stream.on('data', (text: string) => {
      channel.tail.push(text);
      onText(text);
    });
    stream.on('error', () => {});
    return channel;
  }

  send(text: string): void {
    if (!this.closed) writeSync(this.writeFd, text);
  }

  lastLines(count: number): string[] {
    return this.tail.last(count);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    closeSync(this.writeFd);
  }
}
