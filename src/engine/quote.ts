// Commands are data: every argument is POSIX-quoted before it reaches a shell.

const SAFE = /^[A-Za-z0-9_/.,:=+@%^-]+$/;

export function shq(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function argvToShell(argv: string[]): string {
  return argv.map(shq).join(' ');
}
