// The package's "rtlat/prometheus" entry point: the exporter lives in outputs/prometheus.ts.
export * from './outputs/prometheus.js';
