// SIGINT and SIGTERM end a run early and still write its results, as cyclictest does.

/**
 * Calls `stop` on the first SIGINT or SIGTERM; a second one ends the process as usual, a way out when
 * stopping hangs. Returns the function that stops listening.
 */
export function onStopSignals(stop: () => void): () => void {
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return () => {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  };
}
