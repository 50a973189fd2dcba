/** The command line as typed (shell-quoted where needed), for run files and log headers. */
export function commandLine(): string {
  const quote = (arg: string) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`);
  return ['rtlat', ...process.argv.slice(2)].map(quote).join(' ');
}
