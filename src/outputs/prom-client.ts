// prom-client, rtlat's optional peer dependency: loaded only by what needs it (rtlat serve and
// rtlat/prometheus), so that the rest of rtlat works without it installed.
export type PromClient = typeof import('prom-client');

/** prom-client, or an error whose one line says to install it. */
export async function loadPromClient(): Promise<PromClient> {
  try {
    return await import('prom-client');
  } catch (error) {
    // Only prom-client itself missing; a broken install of it keeps its own error.
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && (error as Error).message.includes("'prom-client'")) {
      throw new Error('prom-client is not installed: install prom-client (npm install prom-client), the optional peer dependency of rtlat serve and rtlat/prometheus');
    }
    throw error;
  }
}
