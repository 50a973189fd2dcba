// `rtlat`: one file per command, each exporting its Command; errors go through cli/errors.ts.
import { Command, CommanderError } from 'commander';
import { RTLAT_VERSION } from '../version.js';
import { reportError } from './errors.js';
import { compareCommand } from './compare.js';
import { guestCommand } from './guest.js';
import { importCommand } from './import.js';
import { infoCommand } from './info.js';
import { labCommand } from './lab.js';
import { matrixCommand } from './matrix.js';
import { measureCommand } from './measure.js';
import { mergeCommand } from './merge.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { sweepCommand } from './sweep.js';

// Each command's module exports a factory; add new commands to this list.
const commands: Command[] = [measureCommand(), importCommand(), infoCommand(), sweepCommand(), compareCommand(), mergeCommand(), reportCommand(), guestCommand(), matrixCommand(), labCommand(), serveCommand()];

const program = new Command('rtlat')
  .description('Real-time wake-up latency of Linux hosts, containers and guests (cyclictest-compatible).')
  .version(RTLAT_VERSION, '-V, --version')
  .exitOverride()
  .configureOutput({ writeErr: () => {} });

for (const command of commands) {
  program.addCommand(command.exitOverride().configureOutput({ writeErr: () => {} }));
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const helpOrVersion =
    error instanceof CommanderError &&
    ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code);
  if (helpOrVersion) {
    process.exitCode = 0;
  } else {
    const command = process.argv.slice(2).find((arg) => program.commands.some((c) => c.name() === arg)) ?? '';
    process.exitCode = reportError(command, error);
  }
}
