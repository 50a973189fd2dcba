// Preloaded into rtlat in a guest (node --import): creates the file named by RTLAT_SIGINT_READY_FILE
// once rtlat listens for SIGINT. Until then a SIGINT would kill Node (its default action) instead of
// stopping the run with its results, so the guest's init waits for the file before it passes the
// host's stop on.
import { writeFileSync } from 'node:fs';

const readyFile = process.env.RTLAT_SIGINT_READY_FILE;
if (readyFile) {
  process.on('newListener', function watch(event: string | symbol) {
    if (event !== 'SIGINT') return;
    process.removeListener('newListener', watch);
    // 'newListener' comes before the listener is added.
    setImmediate(() => writeFileSync(readyFile, ''));
  });
}
