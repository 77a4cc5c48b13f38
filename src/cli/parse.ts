// Parsing the command line with the program of program.ts: the chosen command, or help/version text, or a
// UserError (exit 2) that says what was wrong for which command; and the command specs completion is made from.
import { Command, CommanderError } from 'commander';
import { UserError } from '../util/errors.js';
import { buildProgram, type Invocation, type Parsed } from './program.js';

/** The command path of a commander command ("lab up"). */
function pathOf(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The deepest command the words name (for error messages). */
function commandFor(program: Command, argv: string[]): Command {
  let cmd = program;
  for (const w of argv) {
    if (w.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === w || c.aliases().includes(w));
    if (!sub) break;
    cmd = sub;
  }
  return cmd;
}

/** commander's error as pgha's UserError: what was wrong, for which command, and where to look. */
function userError(err: CommanderError, cmd: Command): UserError {
  const name = ['pgha', pathOf(cmd)].filter(Boolean).join(' ');
  const quoted = /'([^']+)'/.exec(err.message)?.[1];
  const suggestion = /\(Did you mean ([^)]+)\?\)/.exec(err.message)?.[1];
  const help = `see ${name} --help`;
  const hint = suggestion ? `did you mean ${suggestion}? ${help}` : help;
  switch (err.code) {
    case 'commander.unknownOption':
      return new UserError(
        `unknown option ${quoted} for ${name}; ${help}`,
        suggestion ? `did you mean ${suggestion}?` : undefined,
      );
    case 'commander.unknownCommand':
      return new UserError(`unknown command ${quoted}${cmd.parent ? ` for ${name}` : ''}`, hint);
    case 'commander.missingArgument':
      return new UserError(`${name} needs ${quoted?.toUpperCase()}`, help);
    case 'commander.missingMandatoryOptionValue':
      return new UserError(`${name} needs ${quoted ?? 'a required option'}`, help);
    case 'commander.optionMissingArgument':
      return new UserError(`option ${quoted?.split(/[ ,]/)[0]} of ${name} needs a value`, help);
    case 'commander.excessArguments':
      return new UserError(
        `too many arguments for ${name}: ${cmd.args.slice(cmd.registeredArguments.length).join(' ')}`,
        help,
      );
    case 'commander.invalidArgument': {
      const choices = /Allowed choices are (.*)\.$/.exec(err.message)?.[1];
      // An option's value: "option '--provider <type>' argument 'x' is invalid"; an argument: "argument 'x' is invalid".
      const quotes = [...err.message.matchAll(/'([^']+)'/g)].map((m) => m[1]);
      const what = err.message.startsWith('error: option') ? `${quotes[1]} (for ${quotes[0].split(' ')[0]})` : quoted;
      return new UserError(`${name}: ${what} is not one of ${choices ?? 'the allowed values'}`, help);
    }
    case 'commander.help':
      return new UserError(
        cmd.parent
          ? `${name} needs a subcommand: ${cmd.commands.map((c) => c.name()).join(' or ')}`
          : 'pgha needs a command',
        help,
      );
    default:
      return new UserError(`${err.message.replace(/^error: /, '')}`, help);
  }
}

/**
 * Parses the arguments (without node and the script). Help and --version come back as text to print with
 * exit code 0; bad input throws a UserError (exit 2).
 */
export function parseArgv(argv: string[]): Parsed {
  let invocation: Invocation | undefined;
  const program = buildProgram((i) => (invocation = i));
  let stdout = '';
  let stderr = '';
  const output = {
    writeOut: (s: string) => (stdout += s),
    writeErr: (s: string) => (stderr += s),
    outputError: () => undefined,
  };
  const configure = (c: Command) => {
    c.configureOutput(output).exitOverride();
    c.commands.forEach(configure);
  };
  configure(program);
  try {
    program.parse(argv, { from: 'user' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    if (
      e.code === 'commander.helpDisplayed' ||
      e.code === 'commander.version' ||
      (e.code === 'commander.help' && e.exitCode === 0)
    ) {
      return { kind: 'exit', code: 0, stdout, stderr: '' };
    }
    const err = userError(e, commandFor(program, argv));
    if (e.code === 'commander.help') (err as UserError & { usage?: string }).usage = stderr; // the help of the bare command
    throw err;
  }
  if (!invocation) throw new UserError('pgha needs a command', 'see pgha --help');
  return { kind: 'run', invocation };
}

/** Every command path with its options (for completion scripts and tests). */
export interface CommandSpec {
  path: string;
  summary: string;
  options: { flags: string[]; description: string; value: boolean }[];
  args: { name: string; choices?: string[] }[];
  subcommands: string[];
}

export function commandSpecs(program: Command = buildProgram()): CommandSpec[] {
  const out: CommandSpec[] = [];
  const walk = (c: Command) => {
    for (const sub of c.commands) {
      out.push({
        path: pathOf(sub),
        summary: sub.summary() || sub.description().split('\n')[0],
        options: [
          ...sub.options.map((o) => ({
            flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
            description: o.description,
            value: o.required || o.optional,
          })),
          { flags: ['-h', '--help'], description: 'this help', value: false },
        ],
        args: sub.registeredArguments.map((a) => ({ name: a.name(), choices: a.argChoices })),
        subcommands: sub.commands.map((x) => x.name()),
      });
      walk(sub);
    }
  };
  walk(program);
  return out;
}
