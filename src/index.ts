export { Probe } from './probe.js';
export type { LatencySummary, ProbeHooks, ProbeResult, ProbeSnapshot, StopReason, ThreadResult } from './probe.js';
export type { ProbeConfig, ProbeOptions, ThreadPlan } from './options.js';
export type { CompletedInterval, MicrosecondHistogram, Spike } from './recorder.js';
export type { PercentileValue } from './histogram.js';
export { OptionError, PlatformError, PrivilegeError } from './errors.js';
