// `rtlat`: one file per command, each exporting its Command; errors go through cli/exit.ts.
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { RTLAT_VERSION } from '../version.js';
import { reportError, UsageError } from './exit.js';
import { analyzeCommand } from './analyze.js';
import { cyclictestHint } from './cyclictest/hint.js';
import { compareCommand } from './compare.js';
import { cyclictestMain } from './cyclictest.js';
import { guestCommand } from './guest.js';
import { importCommand } from './import.js';
import { infoCommand } from './info.js';
import { labCommand } from './lab.js';
import { matrixCommand } from './matrix.js';
import { measureCommand } from './measure.js';
import { mergeCommand } from './merge.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { guardStandardStreams, writeStdout } from './stdout.js';
import { sweepCommand } from './sweep.js';

// Each command's module exports a factory; add new commands to this list.
const commands: Command[] = [measureCommand(), importCommand(), infoCommand(), sweepCommand(), compareCommand(), analyzeCommand(), mergeCommand(), reportCommand(), guestCommand(), matrixCommand(), labCommand(), serveCommand()];

guardStandardStreams();
// Help and version text goes through the guarded writer too: `rtlat --help | head -1` ends silently.
let helpWritten = Promise.resolve();
const output = {
  writeOut: (text: string) => void (helpWritten = helpWritten.then(() => writeStdout(text))),
  writeErr: () => {},
};
// Help is --help only: "-h 50" is cyclictest's histogram, never a request for help.
const HELP_OPTION = ['--help', 'display help for command'] as const;

const program = new Command('rtlat')
  .description('Real-time wake-up latency of Linux hosts, containers and guests (cyclictest-compatible).')
  .version(RTLAT_VERSION, '-V, --version')
  .helpOption(...HELP_OPTION)
  .exitOverride()
  .configureOutput(output)
  .addHelpText('after', '\nAs a drop-in for cyclictest: rtlat cyclictest [cyclictest\'s options], or rtlat started under the name cyclictest.');

for (const command of commands) {
  program.addCommand(command.helpOption(...HELP_OPTION).exitOverride().configureOutput(output));
}

/** One line for a failure; a commander error about a cyclictest option gets a hint at what rtlat calls it. */
function reportFailure(command: string, error: unknown): number {
  if (!(error instanceof CommanderError)) return reportError(command, error);
  const message = error.message.replace(/^error: /, '').split('\n')[0]!.replace(/\.$/, '');
  const rtlatFlags = new Set(program.commands.flatMap((c) => c.options.flatMap((option) => [option.short, option.long])).filter((flag): flag is string => flag !== undefined));
  const hint = cyclictestHint(message, rtlatFlags);
  return reportError(command, hint ? new UsageError(`${message}: ${hint}`) : error);
}

// As cyclictest: under that name (a symlink, as busybox does), or as `rtlat cyclictest ...`, the rest of
// the command line is cyclictest's, read by its own getopt_long rather than by commander.
const invokedAs = path.basename(process.argv[1] ?? '');
if (invokedAs === 'cyclictest') {
  process.exitCode = await cyclictestMain('cyclictest', process.argv.slice(2));
} else if (process.argv[2] === 'cyclictest') {
  process.exitCode = await cyclictestMain('rtlat cyclictest', process.argv.slice(3));
} else {
  const command = process.argv.slice(2).find((arg) => program.commands.some((c) => c.name() === arg)) ?? '';
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    const helpOrVersion =
      error instanceof CommanderError &&
      ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
    process.exitCode = helpOrVersion ? 0 : reportFailure(command, error);
  }
  try {
    await helpWritten;
  } catch (error) {
    process.exitCode = reportError(command, error);
  }
}
