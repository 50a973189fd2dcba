/** `args` as one shell-quoted line (quotes only where needed), for run files and log headers. */
export function quoteCommandLine(args: readonly string[]): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
  return args.map(quote).join(' ');
}

/** The command line as typed (shell-quoted where needed), for run files and log headers. */
export function commandLine(): string {
  return quoteCommandLine(['rtlat', ...process.argv.slice(2)]);
}
