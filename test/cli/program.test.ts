// The command line as parsed (no command runs here): each command's options, the errors for options it does
// not take, missing or extra arguments, help with examples, the version, and every invocation the end-to-end
// tests make.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLAN_CHANGES_EXIT, type Invocation } from '../../src/cli/program.js';
import { commandSpecs, parseArgv } from '../../src/cli/parse.js';
import { UserError } from '../../src/util/errors.js';

const ROOT = join(import.meta.dirname, '..', '..');

function invocation(argv: string[]): Invocation {
  const p = parseArgv(argv);
  if (p.kind !== 'run') throw new Error(`${argv.join(' ')} did not parse to a command`);
  return p.invocation;
}

function userError(argv: string[]): UserError {
  try {
    parseArgv(argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return e as UserError;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

const COMMON = ['-i', '--inventory', '--json', '-v', '--verbose'];
// What each command takes besides its help; everything else must be refused.
const ACCEPTS: Record<string, string[]> = {
  up: [...COMMON, '-l', '--limit', '--log-file', '--check', '--diff', '--prune', '-y', '--yes'],
  plan: [...COMMON, '-l', '--limit', '--log-file', '--exit-code'],
  run: [...COMMON, '-l', '--limit', '--log-file', '--check', '--diff'],
  verify: [...COMMON, '-l', '--limit', '--log-file'],
  status: [...COMMON, '-l', '--limit', '--endpoints', '--format'],
  validate: [...COMMON, '-l', '--limit', '--playbook'],
  destroy: [...COMMON, '-l', '--limit', '--log-file', '--check', '--cleanup-unfinished', '-y', '--yes'],
  remove: [...COMMON, '-l', '--limit', '--log-file', '-y', '--yes'],
  rebuild: [...COMMON, '-l', '--limit', '--log-file', '-y', '--yes'],
  'lab up': [...COMMON, '-l', '--limit', '--log-file'],
  'lab down': [...COMMON, '-l', '--limit', '--log-file', '-y', '--yes'],
  switchover: [...COMMON, '--log-file', '--to', '-y', '--yes'],
  failover: [...COMMON, '--log-file', '--to', '-y', '--yes'],
  restart: [...COMMON, '-l', '--limit', '--log-file', '--in-place', '-y', '--yes'],
  reinit: [...COMMON, '--log-file', '--from-backup', '-y', '--yes'],
  restore: [...COMMON, '--log-file', '--to', '-y', '--yes'],
  'rotate-secrets': [...COMMON, '--log-file', '-y', '--yes'],
  backup: [...COMMON, '--log-file', '--type'],
  backups: [...COMMON],
  completion: [],
  'import ansible': ['--json', '-o', '--output', '--force', '--provider', '--cluster'],
};
const ALL = [...new Set(Object.values(ACCEPTS).flat())];
const VALUE: Record<string, string> = {
  '-i': 'x.yml',
  '--inventory': 'x.yml',
  '-l': 'pg1',
  '--limit': 'pg1',
  '--log-file': 'run.log',
  '--playbook': 'demo',
  '-o': 'out.yml',
  '--output': 'out.yml',
  '--provider': 'lab',
  '--cluster': 'c1',
  '--to': 'pg2',
  '--type': 'full',
  '--format': 'prometheus',
};
const ARGS: Record<string, string[]> = {
  failover: ['--to', 'pg2'],
  reinit: ['pg3'],
  restore: ['--to', 'latest'],
  remove: ['pg4'],
  run: ['demo'],
  completion: ['bash'],
  'import ansible': ['inventory'],
};

function argvFor(path: string, flag?: string): string[] {
  return [...path.split(' '), ...(ARGS[path] ?? []), ...(flag ? [flag, ...(VALUE[flag] ? [VALUE[flag]] : [])] : [])];
}

describe('options per command', () => {
  for (const [path, accepted] of Object.entries(ACCEPTS)) {
    it(`pgha ${path} takes ${accepted.join(' ') || 'no options'} and refuses the others with exit 2`, () => {
      for (const flag of accepted) expect(invocation(argvFor(path, flag)).command).toBe(path);
      for (const flag of ALL.filter((f) => !accepted.includes(f))) {
        const e = userError(argvFor(path, flag));
        expect(e.exitCode).toBe(2);
        expect(e.message).toBe(`unknown option ${flag} for pgha ${path}; see pgha ${path} --help`);
      }
    });
  }

  it('the options the program declares are the ones listed above (help included)', () => {
    const declared = Object.fromEntries(
      commandSpecs()
        .filter((s) => !s.subcommands.length)
        .map((s) => [s.path, s.options.flatMap((o) => o.flags).sort()]),
    );
    expect(declared).toEqual(
      Object.fromEntries(Object.entries(ACCEPTS).map(([p, f]) => [p, [...f, '-h', '--help'].sort()])),
    );
  });

  it('status, verify and lab no longer take --check (it used to be ignored)', () => {
    expect(userError(['status', '--check']).message).toBe(
      'unknown option --check for pgha status; see pgha status --help',
    );
    expect(userError(['verify', '-i', 'x.yml', '--check']).message).toContain('for pgha verify');
    expect(userError(['lab', 'up', '--check']).message).toContain('for pgha lab up');
  });

  it('a near miss gets a suggestion', () => {
    expect(userError(['up', '--chek']).hint).toBe('did you mean --check?');
  });

  it('-v counts: -vv and -v -v are 2', () => {
    expect(invocation(['up']).opts.verbose).toBe(0);
    expect(invocation(['up', '-v']).opts.verbose).toBe(1);
    expect(invocation(['up', '-vv']).opts.verbose).toBe(2);
    expect(invocation(['plan', '-v', '--verbose']).opts.verbose).toBe(2);
  });

  it('--playbook repeats; --log-file and --exit-code come back in camelCase', () => {
    expect(invocation(['validate', '--playbook', 'demo', '--playbook', './x.yml']).opts.playbook).toEqual([
      'demo',
      './x.yml',
    ]);
    expect(invocation(['plan', '--exit-code', '--log-file', 'a.log']).opts).toMatchObject({
      exitCode: true,
      logFile: 'a.log',
    });
  });
});

describe('bad command lines exit 2', () => {
  it('unknown commands and subcommands', () => {
    expect(userError(['frobnicate']).message).toBe('unknown command frobnicate');
    expect(userError(['lab', 'sideways']).message).toBe('unknown command sideways for pgha lab');
    expect(userError(['lab']).message).toBe('pgha lab needs a subcommand: up or down');
    expect(userError([]).message).toBe('pgha needs a command');
  });

  it('missing and extra arguments, options without their value, a shell pgha has no script for', () => {
    expect(userError(['run']).message).toBe('pgha run needs PLAYBOOK');
    expect(userError(['completion']).message).toBe('pgha completion needs SHELL');
    expect(userError(['up', 'now']).message).toBe('too many arguments for pgha up: now');
    expect(userError(['run', 'demo', 'again']).message).toBe('too many arguments for pgha run: again');
    expect(userError(['up', '-i']).message).toBe('option -i of pgha up needs a value');
    expect(userError(['failover']).message).toBe('pgha failover needs --to <host>');
    expect(userError(['reinit']).message).toBe('pgha reinit needs HOST');
    expect(userError(['reinit', 'pg1', 'pg2']).message).toBe('too many arguments for pgha reinit: pg2');
    expect(userError(['completion', 'tcsh']).message).toBe('pgha completion: tcsh is not one of bash, zsh, fish');
    for (const argv of [['run'], ['up', 'now'], ['completion', 'tcsh'], ['frobnicate']])
      expect(userError(argv).exitCode).toBe(2);
  });
});

describe('help and version', () => {
  it('--version prints the version of package.json, exit 0', () => {
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    for (const flag of ['--version', '-V'])
      expect(parseArgv([flag])).toEqual({ kind: 'exit', code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('every command has help with examples of itself and the exit codes', () => {
    for (const s of commandSpecs()) {
      const p = parseArgv([...s.path.split(' '), '--help']);
      expect(p.kind === 'exit' && p.code).toBe(0);
      const text = p.kind === 'exit' ? p.stdout : '';
      expect(text).toContain(`Usage: pgha ${s.path}`);
      expect(text).toMatch(new RegExp(`Examples:\\n(  .*\\n)*  pgha ${s.path}`));
      expect(text).toContain('Exit codes: 0 ok, 1 a run or check failed, 2 bad input.');
    }
    const top = parseArgv(['--help']);
    expect(top.kind === 'exit' && top.stdout).toMatch(/Commands:[\s\S]*lab[\s\S]*Examples:/);
    const helpUp = parseArgv(['help', 'up']);
    expect(helpUp.kind === 'exit' && helpUp.stdout).toContain('Usage: pgha up');
  });

  it('the help keeps what each command does', () => {
    const help = (path: string) => {
      const p = parseArgv([...path.split(' '), '--help']);
      return p.kind === 'exit' ? p.stdout.replace(/\s+/g, ' ') : '';
    };
    expect(help('up')).toContain('A re-run with nothing to change changes nothing.');
    expect(help('plan')).toContain('Same as up --check --diff');
    expect(help('plan')).toContain(`exit ${PLAN_CHANGES_EXIT} when changes are pending`);
    expect(help('verify')).toContain('Writes through VIP:5001, reads back through VIP:5002 from a replica');
    expect(help('status')).toContain(
      'members (role, state, timeline, lag), HAProxy backends, the VIP holder, etcd health',
    );
    expect(help('destroy')).toContain('Proxmox VMs tagged for it');
    expect(help('lab down')).toContain('disks are kept');
    expect(help('validate')).toContain('no SSH, no provider API, no secrets written, no lock');
    expect(help('completion')).toContain('pgha completion zsh');
  });

  it('plan --exit-code: 3, which neither a failure (1) nor bad input (2) uses', () => {
    expect(PLAN_CHANGES_EXIT).toBe(3);
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toMatch(/plan --exit-code[^\n]*`?3`?/);
  });
});

describe('the invocations of the end-to-end tests parse as before (global options after the subcommand)', () => {
  const cases: [string[], { command: string; args: string[]; opts: Record<string, unknown> }][] = [
    [['up', '-i', 'f.yml', '--json'], { command: 'up', args: [], opts: { inventory: 'f.yml', json: true } }],
    [['lab', 'up', '-i', 'f.yml', '--json'], { command: 'lab up', args: [], opts: { inventory: 'f.yml', json: true } }],
    [
      ['lab', 'down', '-i', 'f.yml', '--json'],
      { command: 'lab down', args: [], opts: { inventory: 'f.yml', json: true } },
    ],
    [
      ['run', 'demo', '-i', 'f.yml', '--json'],
      { command: 'run', args: ['demo'], opts: { inventory: 'f.yml', json: true } },
    ],
    [
      ['run', 'demo', '-i', 'f.yml', '--check', '--diff', '--json'],
      { command: 'run', args: ['demo'], opts: { inventory: 'f.yml', check: true, diff: true, json: true } },
    ],
    [
      ['run', 'demo', '-i', 'f.yml', '--check', '--json'],
      { command: 'run', args: ['demo'], opts: { inventory: 'f.yml', check: true, json: true } },
    ],
    [['plan', '-i', 'f.yml', '--json'], { command: 'plan', args: [], opts: { inventory: 'f.yml', json: true } }],
    [['destroy', '-i', 'f.yml', '--json'], { command: 'destroy', args: [], opts: { inventory: 'f.yml', json: true } }],
    [['status', '-i', 'f.yml'], { command: 'status', args: [], opts: { inventory: 'f.yml' } }],
    [['verify', '-i', 'f.yml'], { command: 'verify', args: [], opts: { inventory: 'f.yml' } }],
    [
      ['run', '--limit', 'pg1', '-v', 'demo', '--inventory=f.yml'],
      { command: 'run', args: ['demo'], opts: { inventory: 'f.yml', limit: 'pg1', verbose: 1 } },
    ],
    [['up', '-l', 'pg1,lb1'], { command: 'up', args: [], opts: { limit: 'pg1,lb1' } }],
  ];
  for (const [argv, want] of cases) {
    it(argv.join(' '), () => {
      const got = invocation(argv);
      expect(got.command).toBe(want.command);
      expect(got.args).toEqual(want.args);
      expect(got.opts).toEqual({ verbose: 0, ...want.opts });
    });
  }
});
