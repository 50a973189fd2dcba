/** The command line as typed (shell-quoted where needed), for run files and log headers. */
export function commandLine(program = 'rtlat', args: readonly string[] = process.argv.slice(2)): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
  return [program, ...args].map(quote).join(' ');
}
