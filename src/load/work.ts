// The load's work in one line, for people: "2.28M system calls/s, 844.6k messages/s".
import type { RunLoad } from '../run-file/schema.js';
import type { NativeLoadKind } from './spec.js';

/** What one operation is, per native kind (native/load/kinds.c counts them). */
export const OPERATION_NAMES: Record<NativeLoadKind, string> = {
  syscalls: 'system calls',
  ipc: 'messages',
  timers: 'timer wake-ups',
  io: 'writes+fsyncs',
  memory: 'pages',
};

function rate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

function operationName(kind: string): string {
  if (kind.startsWith('stress-ng:')) return `${kind.slice('stress-ng:'.length)} bogo ops`;
  return OPERATION_NAMES[kind as NativeLoadKind] ?? `${kind} operations`;
}

/** Operations per second of each kind, added up over its CPUs. */
export function formatLoadWork(load: RunLoad): string {
  const perKind = new Map<string, number>();
  for (const generator of load.generators) perKind.set(generator.kind, (perKind.get(generator.kind) ?? 0) + generator.opsPerSecond);
  return [...perKind].map(([kind, perSecond]) => `${rate(perSecond)} ${operationName(kind)}/s`).join(', ');
}
