// Apply planned changes on one host, in order, then run the restarts/reloads they call for.
import type { Notify, Resource, Transport } from './types.js';
import type { Op, PlannedChange } from './plan.js';
import { RemoteError } from './errors.js';
import { mask } from './mask.js';
import { argvToShell, shq } from './quote.js';
import { PENDING_DIR, recordScript, type Pending } from './pending.js';

export const BACKUP_DIR = '/var/lib/pgha/backup';

function fileScript(r: Extract<Resource, { kind: 'file' }>, op: 'write' | 'attrs', backupDir = BACKUP_DIR): string {
  const p = shq(r.path);
  const owner = shq(`${r.owner ?? 'root'}:${r.group ?? 'root'}`);
  const mode = shq(r.mode ?? '0644');
  if (op === 'attrs') return `set -e\nchown ${owner} ${p}\nchmod ${mode} ${p}`;
  const tmp = `"$d/.pgha-$(basename ${p}).$$"`;
  const validate = r.validate
    ? `if ! out=$(${r.validate.split('%s').join('"$tmp"')} 2>&1); then echo "$out" >&2; rm -f "$tmp"; echo "validation failed: ${r.validate.replace(/["$`\\]/g, '\\$&')}" >&2; exit 3; fi\n`
    : '';
  // The content travels base64-encoded inside the script (one round trip, no quoting issues).
  return [
    'set -e',
    `d=$(dirname ${p}); mkdir -p "$d"; tmp=${tmp}`,
    `trap 'rm -f "$tmp"' EXIT`,
    `base64 -d > "$tmp" <<'PGHA_EOF'`,
    Buffer.from(r.content, 'utf8').toString('base64').replace(/.{1,76}/g, '$&\n').trimEnd(),
    'PGHA_EOF',
    `chown ${owner} "$tmp"; chmod ${mode} "$tmp"`,
    validate.trimEnd(),
    `if [ -e ${p} ]; then mkdir -p ${shq(backupDir)}"$d"; cp -p ${p} ${shq(backupDir)}${p}; fi`,
    `mv -f "$tmp" ${p}`,
    'trap - EXIT',
    // A changed unit file is read by systemd before any service action that follows.
    /^\/(etc|lib|usr\/lib)\/systemd\/system\//.test(r.path) ? 'systemctl daemon-reload' : '',
  ].filter(Boolean).join('\n');
}

const APT = 'DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold';

/** dpkg's journal of an interrupted run. */
export const DPKG_UPDATES = '/var/lib/dpkg/updates';

/**
 * A run killed while dpkg worked leaves packages unpacked or half-configured, and apt then refuses every
 * install ("dpkg was interrupted"). Finish that first, waiting while a dpkg of the killed run still holds the lock.
 */
export function dpkgRecover(updatesDir = DPKG_UPDATES): string {
  return [
    `if [ -n "$(ls -A ${shq(updatesDir)} 2>/dev/null)" ] || [ -n "$(dpkg --audit 2>/dev/null)" ]; then`,
    '  n=0',
    '  until out=$(DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold --configure -a 2>&1); do',
    '    case "$out" in *lock*) n=$((n+1)); if [ $n -ge 600 ]; then echo "$out" >&2; exit 1; fi; sleep 1;; *) echo "$out" >&2; exit 1;; esac',
    '  done',
    `  if [ -n "$(dpkg --audit 2>/dev/null)" ]; then ${APT} install -f -y -q; fi`,
    'fi',
  ].join('\n');
}

export const DPKG_RECOVER = dpkgRecover();

export function packagesScript(names: string[], updatesDir = DPKG_UPDATES): string {
  const pkgs = names.map(shq).join(' ');
  // Refresh the package lists when they are missing or older than a day, and once more if a package is not found.
  return [
    'set -e',
    dpkgRecover(updatesDir),
    `if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then ${APT} update -q; fi`,
    `${APT} install -y -q --no-install-recommends ${pkgs} || { ${APT} update -q && ${APT} install -y -q --no-install-recommends ${pkgs}; }`,
  ].join('\n');
}

function opScript(r: Resource, op: Op, backupDir?: string): string {
  switch (op.op) {
    case 'write':
    case 'attrs':
      return fileScript(r as Extract<Resource, { kind: 'file' }>, op.op, backupDir);
    case 'mkdir': {
      const d = r as Extract<Resource, { kind: 'directory' }>;
      return `set -e\nmkdir -p ${shq(d.path)}\nchown ${shq(`${d.owner ?? 'root'}:${d.group ?? 'root'}`)} ${shq(d.path)}\nchmod ${shq(d.mode ?? '0755')} ${shq(d.path)}`;
    }
    case 'install':
      return packagesScript(op.names);
    case 'enable':
    case 'disable':
      return `systemctl ${op.op} ${shq((r as { name: string }).name)}`;
    case 'start': {
      const n = shq((r as { name: string }).name);
      return `systemctl reset-failed ${n} 2>/dev/null || :\nsystemctl start ${n}`;
    }
    case 'stop':
      return `systemctl stop ${shq((r as { name: string }).name)}`;
    case 'run': {
      const c = r as Extract<Resource, { kind: 'command' }>;
      return c.argv ? argvToShell(c.argv) : (c.script as string);
    }
  }
}

function opTimeout(op: Op, r: Resource): number {
  if (op.op === 'install') return 1_200_000;
  if (r.kind === 'command' && r.timeoutMs) return r.timeoutMs;
  return 300_000;
}

export interface AppliedHost {
  applied: PlannedChange[];
  restarted: string[];
  reloaded: string[];
  /** Services whose notifications were handled here (their records are cleared once the step verified). */
  notified: string[];
}

export interface ApplyOptions {
  /** Notifications recorded on the host by an earlier run that did not see them through. */
  pending?: Pending;
  /** Directory of the notification records on the host (default PENDING_DIR). */
  pendingDir?: string;
  /** Where the previous version of a replaced file is kept on the host (default BACKUP_DIR). */
  backupDir?: string;
}

/** A unit journal tail, for error reports. */
export async function serviceLog(t: Transport, unit: string, lines = 30): Promise<string> {
  try {
    const r = await t.exec(`journalctl -u ${shq(unit)} -n ${lines} --no-pager -o short-iso 2>&1 | tail -n ${lines}`, { timeoutMs: 20_000 });
    return mask(r.stdout.trimEnd());
  } catch {
    return '';
  }
}

export async function applyChanges(t: Transport, changes: PlannedChange[], allResources: Resource[], log: (l: string) => void, opts: ApplyOptions = {}): Promise<AppliedHost> {
  const applied: PlannedChange[] = [];
  const notified = new Map<string, Notify['action']>(opts.pending ?? []);
  const startedNow = new Set<string>();
  for (const c of changes) {
    const r = c.resource;
    for (const [i, op] of c.ops.entries()) {
      const secrets = r.kind === 'command' ? r.secrets : undefined;
      // The wish to restart/reload is recorded before the change it follows from, in the same round trip.
      const record = i === 0 && 'notify' in r && r.notify?.length ? `${recordScript(r.notify, opts.pendingDir ?? PENDING_DIR)}\n` : '';
      const res = await t.exec(record + opScript(r, op, opts.backupDir), { timeoutMs: opTimeout(op, r), secrets, stdin: r.kind === 'command' ? r.stdin : undefined });
      if (res.code !== 0) {
        const unit = r.kind === 'service' ? r.name : undefined;
        const logs = unit ? await serviceLog(t, unit) : '';
        const out = mask(`${res.stderr}\n${res.stdout}`.trim()).split('\n').slice(-25).join('\n');
        throw new RemoteError(t.host.name, `${c.summary} failed (exit ${res.code})`, [out, logs && `--- journalctl -u ${unit}\n${logs}`].filter(Boolean).join('\n'),
          r.kind === 'file' && r.validate ? `the new ${r.path} did not pass "${r.validate}"; the old file is untouched` : undefined);
      }
      if (op.op === 'start' && r.kind === 'service') startedNow.add(r.name);
    }
    applied.push(c);
    log(`${t.host.name}: ${mask(c.summary)}`);
    const notify = 'notify' in r ? r.notify : undefined;
    for (const n of notify ?? []) {
      if (notified.get(n.service) !== 'restart') notified.set(n.service, n.action);
    }
  }
  const restarted: string[] = [];
  const reloaded: string[] = [];
  for (const [svc, action] of notified) {
    if (startedNow.has(svc)) continue;
    const wanted = allResources.find((r) => r.kind === 'service' && r.name === svc);
    if (wanted && wanted.kind === 'service' && wanted.state === 'stopped') continue;
    const n = shq(svc);
    // Only a running service is restarted or reloaded; a stopped one is started by its own service resource.
    const script = action === 'reload'
      ? `if systemctl is-active -q ${n}; then systemctl reload ${n} && echo done; fi`
      : `if systemctl is-active -q ${n}; then systemctl restart ${n} && echo done; fi`;
    const res = await t.exec(script, { timeoutMs: 300_000 });
    if (res.code !== 0) {
      throw new RemoteError(t.host.name, `${action} of ${svc} failed (exit ${res.code})`, await serviceLog(t, svc));
    }
    if (res.stdout.includes('done')) {
      (action === 'reload' ? reloaded : restarted).push(svc);
      log(`${t.host.name}: ${action}ed ${svc}`);
    }
  }
  return { applied, restarted, reloaded, notified: [...notified.keys()] };
}
