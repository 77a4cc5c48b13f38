// Turn Proxmox API and task failures into messages that say what to do.
import { ProviderError, UserError, PghaError } from '../../util/errors.js';
import { mask } from '../../engine/mask.js';
import type { ProxmoxSettings } from '../../inventory/types.js';
import { PveApiError, PveTaskError } from './client.js';

const ROLE_PRIVS =
  'VM.Allocate VM.Clone VM.Audit VM.Config.Cloudinit VM.Config.Network VM.Config.Options VM.Config.Disk VM.Config.CPU VM.Config.Memory VM.PowerMgmt VM.GuestAgent.Audit Datastore.AllocateSpace Datastore.Audit SDN.Use';

export function privilegeHint(token: string, path: string, priv: string): string {
  return (
    `grant it to the token (privilege-separated tokens need their own ACL), e.g. on the Proxmox node:\n` +
    `  pveum role add PghaProvision --privs "${ROLE_PRIVS}"   (once)\n` +
    `  pveum acl modify ${path} --tokens '${token}' --roles PghaProvision\n` +
    `(${priv} is part of that role; on PVE 8 use VM.Monitor instead of VM.GuestAgent.Audit)`
  );
}

/** Explain an error from `what` (e.g. "clone template 9000 to pg1"). Already-explained errors pass through. */
export function explain(e: unknown, what: string, s: ProxmoxSettings): Error {
  if (e instanceof PghaError) return e;
  const token = s.api.tokenId;
  if (e instanceof PveApiError) {
    const text = e.all;
    if (e.status === 403) {
      const m = /Permission check failed \(([^,)]+), ([^)]+)\)/.exec(e.reason);
      if (m)
        return new UserError(
          `${what}: the API token ${token} lacks the privilege ${m[2]} on ${m[1]}`,
          privilegeHint(token, m[1]!, m[2]!),
        );
      return new UserError(
        `${what}: the API token ${token} was refused (${e.reason}) for ${e.method} ${e.path}`,
        privilegeHint(token, '/', 'the needed privilege'),
      );
    }
    if (e.status === 401) {
      return new UserError(
        `${what}: Proxmox rejected the API token ${token} (${e.reason})`,
        `check provider.proxmox.api.token_id and the secret in $${s.api.tokenSecretEnv}; list tokens with: pveum user token list ${token.split('!')[0]}`,
      );
    }
    if (e.status === 0) {
      if (/certificate|self[- ]signed|unable to verify/i.test(e.causeText ?? '')) {
        return new UserError(
          `${what}: the TLS certificate of ${s.api.host}:${s.api.port} is not trusted (${e.causeText})`,
          'copy /etc/pve/pve-root-ca.pem from the node and set provider.proxmox.api.ca_file to it',
        );
      }
      return new ProviderError(
        `${what}: no answer from the Proxmox API at ${s.api.host}:${s.api.port} (${e.causeText})`,
        'check provider.proxmox.api.host/port and that pveproxy runs (systemctl status pveproxy)',
      );
    }
    const storage =
      /storage '([^']+)' (?:is not available on node '([^']+)'|does not exist|does not support vm images)/.exec(text);
    if (storage) {
      return new UserError(
        `${what}: ${storage[0]}`,
        `set provider.proxmox.storage to a storage enabled on node ${s.api.node} that holds disk images (pvesm status --content images)`,
      );
    }
    if (
      /unable to find configuration file for VM (\d+)|Configuration file 'nodes\/[^/]+\/qemu-server\/(\d+)\.conf' does not exist/.test(
        text,
      ) &&
      (text.includes(`VM ${s.template} `) || text.includes(`/${s.template}.conf`))
    ) {
      return templateMissing(s);
    }
    return new ProviderError(mask(`${what}: ${e.method} ${e.path} failed: ${e.status} ${text}`));
  }
  if (e instanceof PveTaskError) {
    const storage = /storage '([^']+)' is not available on node '([^']+)'/.exec(e.exitstatus);
    if (storage)
      return new UserError(
        `${what}: ${storage[0]}`,
        `set provider.proxmox.storage to a storage enabled on node ${s.api.node}`,
      );
    return new ProviderError(mask(`${what}: Proxmox task failed: ${e.exitstatus}`), undefined, mask(e.log.join('\n')));
  }
  return e instanceof Error ? e : new ProviderError(`${what}: ${String(e)}`);
}

export function templateMissing(s: ProxmoxSettings, elsewhere?: string): UserError {
  return new UserError(
    `the template VM ${s.template} does not exist on node ${s.api.node}${elsewhere ? ` (it is on node ${elsewhere})` : ''}`,
    elsewhere
      ? `set provider.proxmox.api.node: ${elsewhere}, or make a template on ${s.api.node} (see README.md, section "Proxmox VE", step 1 "Make the cloud-init template")`
      : 'make a cloud-init template (see README.md, section "Proxmox VE", step 1 "Make the cloud-init template": qm create … && qm template <id>) and set provider.proxmox.template to its id',
  );
}
