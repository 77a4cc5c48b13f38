// Test helper: an Ansible inventory layout (inventory file, group_vars/, host_vars/) in a temp folder.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** Write files (path relative to a new temp folder -> text); returns the folder. */
export function layout(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'pgha-ansible-'));
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), text);
  }
  return dir;
}

/** An autobase-style INI inventory: 3 postgres+etcd hosts, 2 balancers, all in 10.231.120.0/24. */
export const AUTOBASE_INI = `# autobase layout
[etcd_cluster]
10.231.120.11
10.231.120.12
10.231.120.13

[balancers]
10.231.120.21 hostname=lb1
10.231.120.22 hostname=lb2

[master]
10.231.120.11 hostname=pg1

[replica]
10.231.120.12 hostname=pg2
10.231.120.13 hostname=pg3

[postgres_cluster:children]
master
replica

[dc_east]
10.231.120.11
10.231.120.21
`;

/** The same cluster in Ansible's YAML inventory format. */
export const AUTOBASE_YAML = `all:
  children:
    etcd_cluster:
      hosts:
        10.231.120.11:
        10.231.120.12:
        10.231.120.13:
    balancers:
      hosts:
        10.231.120.21: {hostname: lb1}
        10.231.120.22: {hostname: lb2}
    postgres_cluster:
      children:
        master:
          hosts:
            10.231.120.11: {hostname: pg1}
        replica:
          hosts:
            10.231.120.12: {hostname: pg2}
            10.231.120.13: {hostname: pg3}
    dc_east:
      hosts:
        10.231.120.11:
        10.231.120.21:
`;

export const ALL_VARS = `cluster_vip: 10.231.120.100
patroni_cluster_name: orders
with_haproxy_load_balancing: true
`;
