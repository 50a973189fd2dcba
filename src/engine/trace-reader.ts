// The engine's thread that reads the kernel's per-CPU trace buffers while measuring (native/trace/):
// the one way the trace layer (src/trace/) reaches the addon.
import { loadAddon, type NativePageReader, type NativePageReaderConfig } from './native.js';

export type { NativePageReader as PageReader, NativePageReaderConfig as PageReaderConfig, NativePageReaderStats as PageReaderStats } from './native.js';

/** A page reader for `config.paths`, not yet started. */
export function newPageReader(config: NativePageReaderConfig): NativePageReader {
  return new (loadAddon().NativePageReader)(config);
}
