// Every ```js example of README.md, run as written: each as an ES module in a folder of its own where
// `rtlat` resolves to this package (a node_modules/rtlat link, as after `npm install rtlat`). A service
// example is started, asked for /metrics, then stopped with SIGTERM as a service manager would.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, get } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The ```js blocks of the README, with the line each starts on. */
function jsExamples(markdown: string): { line: number; code: string }[] {
  const examples: { line: number; code: string }[] = [];
  for (const match of markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)) {
    examples.push({ line: markdown.slice(0, match.index).split('\n').length, code: match[1]! });
  }
  return examples;
}

const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A folder holding `code` as example.mjs, with rtlat (this package) and its peer prom-client installed. */
function exampleFolder(code: string): string {
  const folder = mkdtempSync(path.join(tmpdir(), 'rtlat-test-readme-'));
  folders.push(folder);
  mkdirSync(path.join(folder, 'node_modules'));
  symlinkSync(root, path.join(folder, 'node_modules', 'rtlat'));
  symlinkSync(path.join(root, 'node_modules', 'prom-client'), path.join(folder, 'node_modules', 'prom-client'));
  writeFileSync(path.join(folder, 'example.mjs'), code);
  return folder;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    }).once('error', reject);
  });
}

async function untilServed(url: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fetchText(url);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

const examples = jsExamples(readme);

describe('the README\'s code examples, run as written', () => {
  it('has examples to run: the library one and the service one', () => {
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(examples.filter(({ code }) => code.includes('createServer'))).toHaveLength(1);
  });

  for (const { line, code } of examples) {
    if (code.includes('createServer')) {
      it(`serves /metrics and stops on SIGTERM: the service example (README.md line ${line})`, async () => {
        const folder = exampleFolder(code);
        const port = await freePort();
        const child = spawn(process.execPath, ['example.mjs'], { cwd: folder, env: { ...process.env, PORT: String(port) } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
        try {
          const metrics = await untilServed(`http://127.0.0.1:${port}/metrics`, 15_000);
          expect(metrics.status).toBe(200);
          expect(metrics.body).toMatch(/^rtlat_wakeup_latency_seconds_bucket\{/m);
          expect((await fetchText(`http://127.0.0.1:${port}/`)).body).toBe('hello\n');
        } finally {
          child.kill('SIGTERM');
        }
        expect(await exited).toEqual({ code: 0, signal: null });
        expect(stderr).toBe('');
        expect(stdout).toMatch(/^\d+ wake-ups measured$/m);
        // The HdrHistogram log's file appeared whole at stop, named after its start.
        expect(readdirSync(folder).filter((file) => /^latency\..+\.hlog$/.test(file))).toHaveLength(1);
      });
    } else {
      it(`runs to its end and prints its result: the example at README.md line ${line}`, () => {
        const folder = exampleFolder(code);
        const child = spawnSync(process.execPath, ['example.mjs'], { cwd: folder, encoding: 'utf8', timeout: 60_000 });
        expect(child.stderr).toBe('');
        expect(child.status).toBe(0);
        expect(child.stdout.trim()).not.toBe('');
      });
    }
  }
});
