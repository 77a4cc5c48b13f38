// The commands that act on a running cluster's members and its data: switchover, failover, restart, reinit,
// restore, backup, backups. Parsing only, like the rest of the command line (program.ts).
import { Option, type Command } from 'commander';
import { YES, common, examples } from './program-common.js';

/** `act(path)` is the action that hands the chosen command back to the caller (see buildProgram). */
export function memberCommands(program: Command, act: (path: string) => (...a: unknown[]) => void): void {
  common(program.command('switchover'), { limit: false })
    .summary('hand the leader role to a healthy replica (the synchronous standby, or --to HOST)')
    .description(
      'Switches the leader role from the running leader to a healthy replica (POST /switchover), waits until the ' +
        'new leader runs and the old one runs as its replica, then verifies the cluster. Refused when the candidate ' +
        'does not stream, lags more than maximum_lag_on_failover or has the nofailover tag, and when there is no ' +
        'healthy leader (use failover). Prints the members before and after; asks on a terminal (--yes).',
    )
    .option('--to <host>', 'the member to hand over to (default: the synchronous standby, else the least lagging)')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha switchover', 'pgha switchover --to pg2 --yes']))
    .action(act('switchover'));

  common(program.command('failover'), { limit: false })
    .summary('promote a replica when the cluster has no healthy leader')
    .description(
      'Promotes the named replica (POST /failover) when no running leader holds the cluster; with a healthy leader ' +
        'it refuses and points to switchover. Writes the new leader had not received are lost. Prints the members ' +
        'before and after, verifies the cluster; asks on a terminal (--yes).',
    )
    .requiredOption('--to <host>', 'the replica to promote')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha failover --to pg2']))
    .action(act('failover'));

  common(program.command('restart'))
    .summary('restart PostgreSQL on every member (or --limit), one at a time, the leader after a switchover')
    .description(
      'Restarts every selected member, even without a pending restart: replicas first, in place; the leader after ' +
        'a switchover to a healthy replica (no write outage), or in place with --in-place. Prints the members before ' +
        'and after, verifies the cluster; asks on a terminal (--yes).',
    )
    .option('--in-place', 'restart the leader in place (a short write outage) instead of switching over first')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha restart', 'pgha restart --limit pg3 --yes', 'pgha restart --in-place']))
    .action(act('restart'));

  common(program.command('reinit'), { limit: false })
    .summary('rebuild one replica from the leader (its data directory is cloned again)')
    .description(
      'Rebuilds a replica (POST /reinitialize): its data directory is deleted and cloned again from the leader; ' +
        'waits until it streams again, then verifies the cluster. Refused for the leader. Prints the members before ' +
        'and after; asks on a terminal (--yes).',
    )
    .argument('<host>', 'the replica to rebuild')
    .option('--from-backup', 'restore it from the pgBackRest repository (role backup), not from the leader')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha reinit pg3', 'pgha reinit pg3 --yes', 'pgha reinit pg3 --from-backup']))
    .action(act('reinit'));

  common(program.command('rotate-secrets'), { limit: false })
    .summary('change cluster passwords (all, or the named ones) in PostgreSQL and in every config, then verify')
    .description(
      'New values for the named secrets (keys of the secrets file; all of them without a name), saved in the ' +
        'secrets file at once: PostgreSQL gets the new passwords on the leader first (ALTER ROLE), then each ' +
        "member's patroni.yml is rewritten and reloaded one member at a time, then PgBouncer, HAProxy and " +
        'keepalived; the cluster is verified through the VIP. Asks on a terminal (--yes).',
    )
    .argument('[names...]', 'secrets to change, e.g. replication_password (default: all)')
    .option('-y, --yes', YES)
    .addHelpText('after', examples(['pgha rotate-secrets', 'pgha rotate-secrets postgres_superuser_password --yes']))
    .action(act('rotate-secrets'));

  common(program.command('restore'), { limit: false })
    .summary('rebuild the whole cluster from the pgBackRest repository, at a time, the latest state or a backup')
    .description(
      'Checks the target against the repository first (pgbackrest info on the host with role backup: a time ' +
        'before the oldest backup ended or after the newest archived WAL is refused, as is an unknown label), asks ' +
        'on a terminal (--yes), then stops Patroni on every member, moves their data directories aside, deletes ' +
        "the cluster's keys from the DCS, restores the first member through Patroni's bootstrap method (pgbackrest " +
        'restore, then recovery up to the target and promote) and lets the others clone from it; the moved-aside ' +
        'directories are deleted once every member streams. Ends with the checks of pgha verify.',
    )
    .requiredOption(
      '--to <target>',
      'a time (YYYY-MM-DD HH:MM[:SS[.fff]][zone], UTC without one), latest, or a backup label',
    )
    .option('-y, --yes', YES)
    .addHelpText(
      'after',
      examples([
        'pgha restore --to "2026-11-30 07:40:00+01"',
        'pgha restore --to latest --yes',
        'pgha restore --to 20261130-071500F',
      ]),
    )
    .action(act('restore'));
  common(program.command('backup'), { limit: false })
    .summary('take a pgBackRest backup now (on the backup host)')
    .description(
      'Runs a pgBackRest backup of the cluster now on the repository host (the host with the role backup), from a ' +
        'replica when one runs; prints its progress and the result (label, time, sizes, WAL range).',
    )
    .addOption(new Option('--type <type>', 'full, diff or incr').choices(['full', 'diff', 'incr']).default('full'))
    .addHelpText('after', examples(['pgha backup', 'pgha backup --type diff', 'pgha backup --type incr --json']))
    .action(act('backup'));

  common(program.command('backups'), { limit: false, logFile: false })
    .summary('list the backups in the pgBackRest repository')
    .description(
      'Lists the backups of the stanza (label, type, start and stop, database and repository size, WAL range), ' +
        "the repository's size and the WAL archive's range (pgbackrest info on the backup host).",
    )
    .addHelpText('after', examples(['pgha backups', 'pgha backups --json']))
    .action(act('backups'));
}
