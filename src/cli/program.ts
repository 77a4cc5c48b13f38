// The command line: commands, their options, help and version, built with commander. Parsing only: the
// chosen command comes back as an Invocation and main.ts runs it.
//
// Why commander: it is well kept and widely used, has no dependencies of its own, supports subcommands
// (`pgha lab up`), options per command with strict errors for unknown options and arguments, and generates
// --help from the same definitions the shell completion is generated from. (Version 14: 15 needs Node 22.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Argument, Command, Option } from 'commander';
import { packageRoot } from '../engine/template.js';
import { CHECK, DIFF, YES, collect, common, examples } from './program-common.js';
import { memberCommands } from './program-members.js';

/** Exit code of `pgha plan --exit-code` when changes are pending (1 and 2 already mean failed / bad input). */
export const PLAN_CHANGES_EXIT = 3;

export interface CommonOptions {
  inventory?: string;
  limit?: string;
  json?: boolean;
  verbose: number;
  logFile?: string;
}

/** Options of one command or another (commander names them in camelCase). */
export interface CommandOptions extends CommonOptions {
  check?: boolean;
  diff?: boolean;
  exitCode?: boolean;
  playbook?: string[];
  cleanupUnfinished?: boolean;
  yes?: boolean;
  output?: string;
  force?: boolean;
  provider?: 'static' | 'lab';
  cluster?: string;
  to?: string;
  inPlace?: boolean;
  prune?: boolean;
  fromBackup?: boolean;
  type?: string;
  endpoints?: boolean;
  format?: string;
}

export interface Invocation {
  /** Command path: "up", "run", "lab up", ... */
  command: string;
  args: string[];
  opts: CommandOptions;
}

export type Parsed =
  { kind: 'run'; invocation: Invocation } | { kind: 'exit'; code: number; stdout: string; stderr: string };

export function pghaVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The program. `onAction` receives the chosen command; nothing runs here. Errors and help go through
 * `exitOverride`, so the caller decides how they are printed and which exit code they get.
 */
export function buildProgram(onAction: (inv: Invocation) => void = () => undefined): Command {
  const program = new Command('pgha')
    .description('turn an inventory into a verified, highly available PostgreSQL cluster')
    .usage('<command> [options]')
    .version(pghaVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'this help')
    .helpCommand('help [command]', 'help for a command')
    .showSuggestionAfterError(true)
    .exitOverride();
  program.addHelpText(
    'after',
    examples(
      ['pgha up', 'pgha plan -i inventory/prod.yml', 'pgha run demo --limit pg1', 'pgha lab down'],
      'The inventory: -i FILE, else $PGHA_INVENTORY, else inventory/lab.yml in the current folder.',
    ),
  );

  const act =
    (path: string) =>
    (...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      onAction({ command: path, args: cmd.args, opts: cmd.opts() as Invocation['opts'] });
    };

  common(program.command('up'))
    .summary('create the hosts if needed (lab, Proxmox) and converge the cluster, then verify it')
    .description(
      "Creates missing hosts through the inventory's provider, converges etcd, PostgreSQL + Patroni, HAProxy and " +
        'keepalived, and verifies the cluster. A re-run with nothing to change changes nothing.',
    )
    .option('--check', CHECK)
    .option('--diff', DIFF)
    .option('--prune', 'also remove cluster members that are no longer in the inventory (plan lists them)')
    .option('-y, --yes', 'do not ask: confirm repairs that delete data (etcd data of another cluster)')
    .addHelpText(
      'after',
      examples([
        'pgha up',
        'pgha up -i inventory/prod.yml --check --diff',
        'pgha up --limit pg1,pg2 -v',
        'pgha up --prune   # after deleting a member from the inventory',
      ]),
    )
    .action(act('up'));

  common(program.command('remove'))
    .summary('take one PostgreSQL/etcd host out of the cluster (HAProxy, Patroni, etcd, then its machine)')
    .description(
      'Takes HOST out of the running cluster: out of the HAProxy backends (one balancer reloaded at a time), ' +
        'Patroni stopped there and its member key deleted from the DCS, for an etcd host `etcdctl member remove` ' +
        'before its etcd stops and its data dir is wiped, and its machine deleted (lab, Proxmox). Refused (exit 2, ' +
        'nothing changed) for the leader, when etcd would lose its quorum, and with --limit. It lists what goes and ' +
        'asks on a terminal; without one it refuses unless --yes is given. HOST stays in the inventory file: delete ' +
        'it there (pgha skips it until then).',
    )
    .argument('<host>', 'the inventory host to take out')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha remove pg4', 'pgha remove pg4 -i inventory/lab.yml --yes']))
    .action(act('remove'));

  common(program.command('plan'))
    .summary('show every file, package and service that up would change, on every host (up --check --diff)')
    .description('Same as up --check --diff: every change, on every host, before anything is touched.')
    .option(
      '--exit-code',
      `exit ${PLAN_CHANGES_EXIT} when changes are pending, 0 when there are none (errors keep 1 and 2)`,
    )
    .addHelpText(
      'after',
      examples(
        ['pgha plan', 'pgha plan -i inventory/prod.yml --exit-code   # in CI: 0 nothing to do, 3 changes pending'],
        `With --exit-code: ${PLAN_CHANGES_EXIT} when changes are pending (1 and 2 keep their meaning).`,
      ),
    )
    .action(act('plan'));

  common(program.command('run'))
    .summary('run a playbook (a path, or a name from playbooks/)')
    .description(
      'Runs a playbook: plays of components, steps or built-in tasks (file, directory, packages, service, ' +
        'command) on roles, groups or hosts.',
    )
    .argument('<playbook>', 'a path to a .yml file, or a name from playbooks/')
    .option('--check', CHECK)
    .option('--diff', DIFF)
    .addHelpText(
      'after',
      examples(['pgha run demo', 'pgha run ./my-playbook.yml --check --diff', 'pgha run verify --limit lb1']),
    )
    .action(act('run'));

  common(program.command('verify'))
    .summary('check the running cluster end to end through the VIP')
    .description(
      'Writes through VIP:5001, reads back through VIP:5002 from a replica, and checks that VIP:5010 ' +
        'reaches more than one member.',
    )
    .addHelpText('after', examples(['pgha verify', 'pgha verify -i inventory/prod.yml --json']))
    .action(act('verify'));

  common(program.command('status'), { logFile: false })
    .summary('members, HAProxy backends, VIP holder, etcd health')
    .description(
      'One table: members (role, state, timeline, lag), HAProxy backends, the VIP holder, etcd health. With ' +
        '--endpoints: every metrics endpoint of the cluster (job, host, URL) from the inventory, contacting nothing.',
    )
    .option('--endpoints', 'list the metrics endpoints (node, postgres, haproxy, etcd, patroni, prometheus) instead')
    .option('--format <format>', 'with --endpoints: table (default) or prometheus (a scrape_configs section)')
    .addHelpText(
      'after',
      examples([
        'pgha status',
        'pgha status -i inventory/prod.yml --json',
        'pgha status --endpoints',
        'pgha status --endpoints --format prometheus >> prometheus.yml',
      ]),
    )
    .action(act('status'));

  common(program.command('validate'), { logFile: false })
    .summary('check an inventory and its playbooks without contacting anything')
    .description(
      'Loads the inventory and the playbooks (cluster, verify and demo, or those given with --playbook) and checks ' +
        'them: no SSH, no provider API, no secrets written, no lock. Prints "valid: ..." or every error with file, ' +
        'line and field (exit 2).',
    )
    .option('--playbook <name>', 'a playbook to check (a path or a name from playbooks/); repeatable', collect)
    .addHelpText(
      'after',
      examples([
        'pgha validate',
        'pgha validate -i inventory/prod.yml',
        'pgha validate --playbook ./my-playbook.yml --playbook demo',
      ]),
    )
    .action(act('validate'));

  common(program.command('destroy'))
    .summary('remove the hosts pgha created (lab machines, Proxmox VMs) and their disks')
    .description(
      'Stops and removes the hosts this inventory created (lab machines and disks; Proxmox VMs tagged for it); ' +
        'with --limit only those hosts (the lab bridge and package cache stay while another lab host runs). ' +
        'The inventory must be named (-i or $PGHA_INVENTORY) unless inventory/lab.yml is in the current folder. ' +
        'It lists what goes and what is lost, and asks on a terminal; without one it refuses unless --yes is given.',
    )
    .option('--check', CHECK)
    .option('-y, --yes', YES)
    .option('--cleanup-unfinished', "also delete Proxmox VMs carrying the inventory's tag that were never finished")
    .addHelpText(
      'after',
      examples([
        'pgha destroy',
        'pgha destroy -i inventory/prod.yml --check',
        'pgha destroy -i inventory/lab.yml --yes          # no question (scripts, CI)',
        'pgha destroy -i inventory/lab.yml --limit lb2    # only lb2; pgha up --limit lb2 brings it back',
        'pgha destroy -i inventory/example-proxmox.yml --cleanup-unfinished',
      ]),
    )
    .action(act('destroy'));

  common(program.command('rebuild'))
    .summary('destroy the hosts and bring the cluster up again on new ones (lab, Proxmox)')
    .description(
      'destroy, then up, in one command: the hosts (all, or those of --limit) are deleted with their disks, ' +
        'made again and converged, and the cluster is verified. It lists what goes and what is lost and asks on a ' +
        'terminal; without one it refuses unless --yes is given. Refused on provider static (pgha does not make ' +
        'those hosts). The inventory must be named (-i or $PGHA_INVENTORY) unless inventory/lab.yml is here.',
    )
    .option('-y, --yes', YES)
    .addHelpText(
      'after',
      examples([
        'pgha rebuild -i inventory/lab.yml',
        'pgha rebuild -i inventory/lab.yml --yes              # no question (scripts, CI)',
        'pgha rebuild -i inventory/lab.yml --limit pg3 --yes  # a fresh pg3, cloned again from the leader',
      ]),
    )
    .action(act('rebuild'));

  memberCommands(program, act);

  const lab = program
    .command('lab')
    .summary('start or stop the local lab machines only')
    .description(
      'up: start the lab machines of a lab inventory (built from a cached Debian 12 image).\n' +
        'down: stop them and free their network; disks are kept (pgha destroy removes them).',
    )
    .usage('up|down [options]')
    .addHelpText('after', examples(['pgha lab up', 'pgha lab down -i test/e2e/fixtures/foundation.yml']));
  common(lab.command('up'))
    .summary('start the lab machines')
    .description(
      'Starts the lab machines of a lab inventory (built from a cached Debian 12 image); with --limit only those.',
    )
    .addHelpText(
      'after',
      examples(['pgha lab up', 'pgha lab up -i inventory/lab.yml --json', 'pgha lab up --limit lb2']),
    )
    .action(act('lab up'));
  common(lab.command('down'))
    .summary('stop the lab machines (disks are kept)')
    .description(
      'Stops the lab machines and frees their network; disks are kept (pgha destroy removes them). With --limit ' +
        'only those machines stop; the bridge and package cache stay while another machine of the lab runs. ' +
        'It asks on a terminal; without one it refuses unless --yes is given.',
    )
    .option('-y, --yes', YES)
    .addHelpText(
      'after',
      examples(['pgha lab down', 'pgha lab down -i inventory/lab.yml --yes', 'pgha lab down --limit pg3 --yes']),
    )
    .action(act('lab down'));

  program
    .command('import')
    .summary("turn another tool's inventory into a pgha inventory")
    .description('Imports an inventory from another tool. Today: ansible (the autobase / postgresql_cluster layout).')
    .usage('ansible <inventory> [options]')
    .addHelpText(
      'after',
      examples(['pgha import ansible inventory/ansible-example/inventory > inventory/imported.yml']),
    )
    .command('ansible')
    .summary('an Ansible inventory (INI or YAML, with group_vars/ and host_vars/) as a pgha inventory')
    .description(
      'Reads an Ansible inventory in the autobase layout (groups master, replica, etcd_cluster, balancers; ' +
        'group_vars/ and host_vars/ beside it) and prints a pgha inventory. Every variable it could not map becomes a ' +
        'comment in the output saying why, and is listed on stderr. Contacts nothing.',
    )
    .argument('<inventory>', 'the Ansible inventory file, or the folder holding it')
    .option('-o, --output <file>', 'write the pgha inventory to FILE instead of stdout')
    .option('--force', 'replace FILE when it exists')
    .addOption(
      new Option('--provider <type>', 'where the hosts come from').choices(['static', 'lab']).default('static'),
    )
    .option('--cluster <name>', 'the pgha cluster name (default: patroni_cluster_name)')
    .option('--json', 'one JSON document on stdout (the inventory text and what was not imported)')
    .addHelpText(
      'after',
      examples([
        'pgha import ansible inventory/ansible-example/inventory > inventory/imported.yml',
        'pgha import ansible ~/autobase/inventory -o inventory/prod.yml && pgha validate -i inventory/prod.yml',
        'pgha import ansible inventory/ansible-example/inventory --provider lab -o inventory/try.yml',
      ]),
    )
    .action(act('import ansible'));

  program
    .command('completion')
    .summary('print a shell completion script (bash, zsh or fish)')
    .description("Prints a completion script for pgha's commands, options, playbook names and files.")
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(['bash', 'zsh', 'fish']))
    .addHelpText(
      'after',
      examples([
        'source <(pgha completion bash)                                  # bash, this shell',
        'pgha completion bash > ~/.local/share/bash-completion/completions/pgha',
        'pgha completion zsh > "${fpath[1]}/_pgha"                         # zsh',
        'pgha completion fish > ~/.config/fish/completions/pgha.fish     # fish',
      ]),
    )
    .action(act('completion'));

  return program;
}
