#!/usr/bin/env node
// pgha: inventory in, verified HA PostgreSQL cluster out.
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../engine/template.js';
import { UserError } from '../engine/errors.js';
import { mask } from '../engine/mask.js';
import { errorJson, exitCodeOf, formatError, makeOut, outputMode } from './output.js';
import { providerCommand, runPlaybookCommand, statusCommand } from './commands.js';
import type { GlobalOptions } from './session.js';

const COMMON = `
Options:
  -i, --inventory FILE   inventory (default: inventory/lab.yml)
  -l, --limit HOSTS      only these hosts or groups (comma-separated)
      --json             one JSON document on stdout (for machines)
  -v, --verbose          more detail (every remote action, round trips, stack traces)
  -h, --help             this help
Exit codes: 0 ok, 1 a run or check failed, 2 bad input.`;

const HELP: Record<string, string> = {
  '': `pgha: turn an inventory into a verified, highly available PostgreSQL cluster.

Usage: pgha <command> [options]

Commands:
  up                 create the hosts if needed (lab, Proxmox) and converge the cluster, then verify it
  plan               show every file, package and service that up would change, on every host (up --check --diff)
  run PLAYBOOK       run a playbook (a path, or a name from playbooks/)
  verify             check the running cluster end to end through the VIP
  status             members, HAProxy backends, VIP holder, etcd health
  destroy            remove the hosts pgha created (lab machines, Proxmox VMs) and their disks
  lab up|down        start or stop the local lab machines only
${COMMON}`,
  up: `Usage: pgha up [--check] [--diff] [options]\n\nCreates missing hosts through the inventory's provider, converges etcd, PostgreSQL + Patroni, HAProxy and\nkeepalived, and verifies the cluster. A re-run with nothing to change changes nothing.\n      --check            change nothing, report what would change\n      --diff             show unified diffs of changed files (secrets masked)${COMMON}`,
  plan: `Usage: pgha plan [options]\n\nSame as up --check --diff: every change, on every host, before anything is touched.${COMMON}`,
  run: `Usage: pgha run PLAYBOOK [--check] [--diff] [options]\n\nRuns a playbook: plays of components, steps or built-in tasks (file, directory, packages, service,\ncommand) on roles, groups or hosts.${COMMON}`,
  verify: `Usage: pgha verify [options]\n\nWrites through VIP:5001, reads back through VIP:5002 from a replica, and checks that VIP:5010\nreaches more than one member.${COMMON}`,
  status: `Usage: pgha status [options]\n\nOne table: members (role, state, timeline, lag), HAProxy backends, the VIP holder, etcd health.${COMMON}`,
  destroy: `Usage: pgha destroy [--check] [options]\n\nStops and removes the hosts this inventory created (lab machines and disks; Proxmox VMs tagged for it).\n      --cleanup-unfinished  also delete Proxmox VMs carrying the inventory's tag that were never finished${COMMON}`,
  lab: `Usage: pgha lab up|down [options]\n\nup: start the lab machines of a lab inventory (built from a cached Debian 12 image).\ndown: stop them and free their network; disks are kept (pgha destroy removes them).${COMMON}`,
};

/** inventory/lab.yml in the current folder, else the one shipped with pgha. */
function defaultInventory(): string {
  return existsSync('inventory/lab.yml') ? 'inventory/lab.yml' : join(packageRoot(), 'inventory', 'lab.yml');
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      inventory: { type: 'string', short: 'i' },
      limit: { type: 'string', short: 'l' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
      check: { type: 'boolean' },
      diff: { type: 'boolean' },
      'cleanup-unfinished': { type: 'boolean' },
    },
  });
  const [cmd = '', ...args] = positionals;
  const known = new Set(['inventory', 'limit', 'json', 'verbose', 'help', 'check', 'diff', 'cleanup-unfinished']);
  const g: GlobalOptions = {
    inventory: (values.inventory as string) ?? defaultInventory(),
    limit: values.limit as string | undefined,
    json: Boolean(values.json),
    verbose: Boolean(values.verbose),
  };
  const check = Boolean(values.check);
  const diff = Boolean(values.diff);
  const out = makeOut(outputMode(g.json), g.verbose, diff || cmd === 'plan');
  const print = (result: unknown) => {
    if (g.json) process.stdout.write(mask(JSON.stringify(result, null, 2)) + '\n');
  };
  try {
    const unknown = Object.keys(values).filter((k) => !known.has(k));
    if (unknown.length) throw new UserError(`unknown option --${unknown[0]}`, `see pgha ${cmd} --help`);
    if (values.help || cmd === 'help' || cmd === '') {
      const topic = cmd === 'help' ? (args[0] ?? '') : cmd;
      process.stdout.write((HELP[topic] ?? HELP['']) + '\n');
      return cmd === '' && !values.help ? 2 : 0;
    }
    switch (cmd) {
      case 'up':
        print(await runPlaybookCommand(g, out, 'cluster', { check, diff }, 'up'));
        return 0;
      case 'plan':
        print(await runPlaybookCommand(g, out, 'cluster', { check: true, diff: true }, 'plan'));
        return 0;
      case 'run':
        if (!args[0]) throw new UserError('pgha run needs a playbook', 'pgha run PLAYBOOK (a path, or a name from playbooks/)');
        print(await runPlaybookCommand(g, out, args[0], { check, diff }, `run ${args[0]}`));
        return 0;
      case 'verify':
        print(await runPlaybookCommand(g, out, 'verify', { check: false, diff: false }, 'verify'));
        return 0;
      case 'status':
        print(await statusCommand(g, out));
        return 0;
      case 'destroy':
        print(await providerCommand(g, out, 'destroy', check, undefined, { cleanupUnfinished: Boolean(values['cleanup-unfinished']) }));
        return 0;
      case 'lab': {
        const sub = args[0];
        if (sub !== 'up' && sub !== 'down') throw new UserError(`pgha lab needs up or down, not ${sub ?? 'nothing'}`, 'pgha lab up | pgha lab down');
        print(await providerCommand(g, out, sub, check, 'lab'));
        return 0;
      }
      default:
        throw new UserError(`unknown command ${cmd}`, 'see pgha --help');
    }
  } catch (e) {
    if (g.json) print({ ok: false, error: errorJson(e) });
    else process.stderr.write(formatError(e, g.verbose) + '\n');
    return exitCodeOf(e);
  }
}

// Ctrl-C (or a TERM from a supervisor): stop at once, say what that means, and leave no lock behind (the exit
// handlers release it). Remote commands in flight end with their SSH session or finish on their own; a re-run
// picks up from what the hosts show (interrupted package installs included).
for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(sig, () => {
    process.stderr.write(`\npgha: interrupted (${sig}); the hosts may be partly changed: run it again to converge\n`);
    if (process.argv.includes('--json')) process.stdout.write(JSON.stringify({ ok: false, error: { type: 'Interrupted', signal: sig } }) + '\n');
    process.exit(code);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`pgha: internal error: ${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  },
);
