// Completion scripts, generated from the program's commands and options. The bash one is run for real: sourced
// in bash, its function called with COMP_WORDS/COMP_CWORD as bash sets them, COMPREPLY read back. zsh and fish
// are not on the machine: their scripts are parsed and held against the program's commands and options.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandSpecs } from '../../src/cli/parse.js';
import { completion, playbookNames } from '../../src/cli/commands/completion.js';

const specs = commandSpecs();
const model = { specs, playbooks: playbookNames() };
const spec = (path: string) => specs.find((s) => s.path === path)!;
const flagsOf = (path: string) => spec(path).options.flatMap((o) => o.flags);
const TOP = specs.filter((s) => !s.path.includes(' ')).map((s) => s.path);

describe('bash completion (run in bash)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-complete-'));
  const script = join(dir, 'pgha.bash');
  writeFileSync(script, completion('bash', model));
  mkdirSync(join(dir, 'inv'));
  writeFileSync(join(dir, 'inv', 'prod.yml'), '');
  writeFileSync(join(dir, 'inv', 'lab.yml'), '');

  /** COMPREPLY for the command line `words`, the cursor on the last word. */
  function complete(words: string[]): string[] {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const r = spawnSync(
      'bash',
      [
        '--norc',
        '--noprofile',
        '-c',
        `source '${script}'\nCOMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}\n_pgha\nprintf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { cwd: dir, encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean).sort();
  }

  it('registers _pgha for pgha', () => {
    const r = spawnSync('bash', ['--norc', '-c', `source '${script}'; complete -p pgha`], { encoding: 'utf8' });
    expect(r.stdout.trim()).toBe('complete -F _pgha pgha');
  });

  it('command names, and those starting with what is typed', () => {
    expect(complete(['pgha', ''])).toEqual([...TOP, 'help'].sort());
    expect(complete(['pgha', 'st'])).toEqual(['status']);
    expect(complete(['pgha', 'help', 'v'])).toEqual(['validate', 'verify']);
  });

  it('lab up|down, then their options', () => {
    expect(complete(['pgha', 'lab', ''])).toEqual(['down', 'up']);
    expect(complete(['pgha', 'lab', 'up', '-'])).toEqual([...flagsOf('lab up')].sort());
    expect(complete(['pgha', 'lab', 'up', '-'])).toContain('--limit');
    expect(complete(['pgha', 'lab', 'down', '-'])).toContain('--limit');
  });

  it('each command its own options', () => {
    for (const path of ['up', 'plan', 'verify', 'status', 'validate', 'destroy', 'rebuild'])
      expect(complete(['pgha', path, '-'])).toEqual([...flagsOf(path)].sort());
    expect(complete(['pgha', 'up', '--c'])).toEqual(['--check']);
    expect(complete(['pgha', 'plan', '--e'])).toEqual(['--exit-code']);
    expect(complete(['pgha', 'status', '--c'])).toEqual([]);
  });

  it('playbook names for run, then options', () => {
    expect(model.playbooks).toEqual(['cluster', 'demo', 'rotate-secrets', 'verify']);
    expect(complete(['pgha', 'run', ''])).toEqual(['cluster', 'demo', 'rotate-secrets', 'verify']);
    expect(complete(['pgha', 'run', 'de'])).toEqual(['demo']);
    expect(complete(['pgha', 'run', 'inv/'])).toEqual(['inv/lab.yml', 'inv/prod.yml']);
    expect(complete(['pgha', 'run', 'demo', '--d'])).toEqual(['--diff']);
  });

  it('files for -i and --log-file; an option value is not taken for a command', () => {
    expect(complete(['pgha', 'up', '-i', 'inv/'])).toEqual(['inv/lab.yml', 'inv/prod.yml']);
    expect(complete(['pgha', 'plan', '--inventory', 'inv/p'])).toEqual(['inv/prod.yml']);
    expect(complete(['pgha', 'up', '--log-file', 'in'])).toEqual(['inv']);
    // "up" after -i is the value of -i, not the command: the path is still "status".
    expect(complete(['pgha', 'status', '-i', 'up', '--j'])).toEqual(['--json']);
    expect(complete(['pgha', 'up', '-l', ''])).toEqual([]);
  });

  it('the shells for completion, and the program options before a command', () => {
    expect(complete(['pgha', 'completion', ''])).toEqual(['bash', 'fish', 'zsh']);
    expect(complete(['pgha', '--v'])).toEqual(['--version']);
  });
});

describe('zsh completion (structure)', () => {
  const text = completion('zsh', model);

  /** The lines of the branch `name)` at the given indentation, up to its `;;`. */
  function branch(name: string, indent: string): string {
    const start = text.indexOf(`\n${indent}${name})\n`);
    expect(start, `branch ${name}`).toBeGreaterThan(-1);
    const rest = text.slice(start + 1);
    const end = rest.search(new RegExp(`\\n${indent}[a-z-]+\\)\\n|\\n${indent.slice(2)}esac`));
    return rest.slice(0, end === -1 ? undefined : end);
  }

  it('is a compdef function for pgha', () => {
    expect(text.split('\n')[0]).toBe('#compdef pgha');
    expect(text).toContain('compdef _pgha pgha');
  });

  it('lists every command with its summary', () => {
    const list = /local -a commands=\(\n([\s\S]*?)\n\s+\)/.exec(text)![1];
    const names = [...list.matchAll(/^\s+'([a-z-]+):/gm)].map((m) => m[1]);
    expect(names).toEqual([...TOP, 'help']);
    expect(list).toContain(`'up:${spec('up').summary.replace(/[[\]:]/g, (c) => `\\${c}`)}'`);
  });

  it('each command branch offers exactly its options, files for -i', () => {
    for (const path of TOP.filter((p) => !spec(p).subcommands.length)) {
      const b = branch(path, '        ');
      const offered = [...b.matchAll(/\{(-[a-zA-Z]),(--[a-z-]+)\}|'(--?[a-z-]+)\[/g)].flatMap((m) =>
        m[3] ? [m[3]] : [m[1], m[2]],
      );
      expect(offered.sort(), path).toEqual([...flagsOf(path)].sort());
    }
    expect(branch('up', '        ')).toMatch(/\{-i,--inventory\}'\[[^\]]*\]:file:_files'/);
    expect(branch('up', '        ')).toMatch(/'\*'\{-v,--verbose\}/);
    expect(branch('run', '        ')).toContain(`'1:playbook:(cluster demo rotate-secrets verify)'`);
    expect(branch('completion', '        ')).toContain(`'1:shell:(bash zsh fish)'`);
  });

  it('lab: up and down as subcommands, each with its options', () => {
    const lab = text.slice(text.indexOf('\n        lab)\n'), text.indexOf('\n        completion)\n'));
    expect(lab).toMatch(/'up:start the lab machines'\n\s+'down:stop the lab machines \(disks are kept\)'/);
    for (const sub of ['up', 'down']) {
      const b = lab.slice(lab.indexOf(`\n                ${sub})\n`));
      const body = b.slice(0, b.indexOf('&& return 0;;'));
      for (const f of flagsOf(`lab ${sub}`)) expect(body).toContain(f);
      expect(body).toContain('--limit');
    }
  });
});

describe('fish completion (structure)', () => {
  const text = completion('fish', model);
  const lines = text.split('\n').filter((l) => l.startsWith('complete -c pgha'));
  /** Flags offered under a condition, as "-s i", "-l inventory". */
  const flagsUnder = (cond: string) =>
    lines
      .filter((l) => l.includes(`-n '${cond}'`))
      .flatMap((l) =>
        [...l.matchAll(/ -([sl]) ([a-z-]+|[a-zA-Z])/g)].map((m) => (m[1] === 's' ? `-${m[2]}` : `--${m[2]}`)),
      );
  const wordsUnder = (cond: string) =>
    lines
      .filter((l) => l.includes(`-n '${cond}'`) && / -a /.test(l))
      .flatMap((l) => /-a ('[^']*'|\S+)/.exec(l)![1].replace(/'/g, '').split(' '));

  it('commands at the top, lab up|down under lab, shells and playbooks as arguments', () => {
    expect(wordsUnder('__pgha_at')).toEqual([...TOP, 'help']);
    expect(wordsUnder('__pgha_at lab')).toEqual(['up', 'down']);
    expect(wordsUnder('__pgha_at run')).toEqual(['cluster', 'demo', 'rotate-secrets', 'verify']);
    expect(wordsUnder('__pgha_at completion')).toEqual(['bash', 'zsh', 'fish']);
  });

  it('each command exactly its options; file values for -i', () => {
    for (const s of specs.filter((x) => !x.subcommands.length))
      expect(flagsUnder(`__pgha_in ${s.path}`).sort(), s.path).toEqual([...flagsOf(s.path)].sort());
    expect(lines).toContain(
      `complete -c pgha -n '__pgha_in up' -s i -l inventory -r -F -d 'inventory (default: $PGHA_INVENTORY, else inventory/lab.yml)'`,
    );
  });

  it('the path helper skips the values of every option that takes one', () => {
    const skip = /case (.*)\n\s+set skip 1/.exec(text)![1].split(' ').sort();
    expect(skip).toEqual(
      [...new Set(specs.flatMap((s) => s.options.filter((o) => o.value).flatMap((o) => o.flags)))].sort(),
    );
    expect(skip).toContain('--log-file');
  });
});
