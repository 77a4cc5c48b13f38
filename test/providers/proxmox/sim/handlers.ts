// Handlers of the simulated API calls. Each gets validated params and returns `data`, or throws PveFail.
import { PveFail, formatSize, parseSize, type SimVm } from './state.js';
import {
  applyConfig,
  configOut,
  configPrecheck,
  defaultAgent,
  infoOf,
  powerOff,
  task,
  vmEntry,
  type P,
  type SimEnv,
} from './vms.js';

type Handler = (env: SimEnv, p: P) => Promise<unknown> | unknown;

export const handlers: Record<string, Handler> = {
  'GET /cluster/ha/resources': (env) =>
    [...env.st.ha.resources].map(([sid, r]) => ({
      sid,
      type: 'vm',
      state: r.state,
      ...(r.comment ? { comment: r.comment } : {}),
    })),
  'POST /cluster/ha/resources': (env, p) => {
    const sid = /^\d+$/.test(p['sid']!) ? `vm:${p['sid']}` : p['sid']!;
    if (env.st.ha.resources.has(sid)) throw new PveFail(500, `resource ID '${sid}' already defined`);
    if (!env.st.vms.has(Number(sid.split(':')[1]))) throw new PveFail(500, `unable to find VM '${sid.split(':')[1]}'`);
    env.st.ha.resources.set(sid, { state: p['state'] ?? 'started', comment: p['comment'] });
    return null;
  },
  'DELETE /cluster/ha/resources/{sid}': (env, p) => {
    const sid = /^\d+$/.test(p['sid']!) ? `vm:${p['sid']}` : p['sid']!;
    if (!env.st.ha.resources.delete(sid)) throw new PveFail(500, `no such resource '${sid}'`);
    return null;
  },
  'GET /cluster/ha/rules': (env) => [...env.st.ha.rules].map(([rule, r]) => ({ rule, ...r })),
  'POST /cluster/ha/rules': (env, p) => {
    if (env.st.ha.rules.has(p['rule']!)) throw new PveFail(500, `rule '${p['rule']}' already defined`);
    const { rule, ...rest } = p;
    env.st.ha.rules.set(rule!, rest);
    return null;
  },
  'DELETE /cluster/ha/rules/{rule}': (env, p) => {
    if (!env.st.ha.rules.delete(p['rule']!)) throw new PveFail(500, `no such rule '${p['rule']}'`);
    return null;
  },
  'GET /nodes': (env) =>
    env.nodes.map((node) =>
      env.offline.has(node)
        ? { node, status: 'offline' }
        : { node, status: 'online', uptime: 86400, maxcpu: 16, maxmem: 64 * 1024 ** 3, level: '' },
    ),
  'GET /access/permissions': (env, p) => {
    const paths = p['path'] !== undefined ? [p['path']] : Object.keys(env.st.acl);
    return Object.fromEntries(
      paths.map((path) => [path, Object.fromEntries([...env.st.privsAt(path)].map((priv) => [priv, 1]))]),
    );
  },
  'GET /nodes/{node}/network': (env, p) => {
    // Without Sys.Audit on the node, only the bridges the token may use or audit (SDN.Use / SDN.Audit) are listed.
    const all = env.bridges[p['node']!] ?? ['vmbr0'];
    const visible = env.st.has(`/nodes/${p['node']}`, 'Sys.Audit')
      ? all
      : all.filter(
          (b) =>
            env.st.has(`/sdn/zones/localnetwork/${b}`, 'SDN.Use') ||
            env.st.has(`/sdn/zones/localnetwork/${b}`, 'SDN.Audit'),
        );
    return visible.map((iface, i) => ({
      iface,
      type: 'bridge',
      active: 1,
      autostart: 1,
      priority: i + 1,
      families: ['inet'],
      method: 'manual',
    }));
  },
  'GET /nodes/{node}/storage/{storage}/status': (env, p) => {
    const id = p['storage']!;
    if (!env.storages[id]?.includes(p['node']!))
      throw new PveFail(400, 'Parameter verification failed.', { storage: 'No such storage.' });
    const info = env.storageInfo[id] ?? {};
    const active = info.active ?? true;
    return {
      type: 'lvmthin',
      content: info.content ?? 'images,rootdir',
      enabled: 1,
      active: active ? 1 : 0,
      shared: info.shared ? 1 : 0,
      ...(active ? { total: 500 * 1024 ** 3, used: 20 * 1024 ** 3, avail: 480 * 1024 ** 3 } : {}),
    };
  },
  'GET /cluster/resources': (env, p) => {
    if (p['type'] && p['type'] !== 'vm') return [];
    return [...env.st.vms.values()]
      .filter((vm) => env.st.has(`/vms/${vm.vmid}`, 'VM.Audit'))
      .map((vm) => vmEntry(env, vm));
  },
  'GET /cluster/nextid': (env, p) => {
    if (p['vmid'] !== undefined) {
      if (env.st.vms.has(Number(p['vmid'])))
        throw new PveFail(400, 'Parameter verification failed.', { vmid: `VM ${p['vmid']} already exists` });
      return String(p['vmid']);
    }
    return String(env.st.nextFree()); // a JSON string, as PVE sends it
  },
  'GET /nodes/{node}/qemu': (env, p) =>
    [...env.st.vms.values()]
      .filter((vm) => vm.node === p['node'] && env.st.has(`/vms/${vm.vmid}`, 'VM.Audit'))
      .map((vm) => ({
        vmid: vm.vmid,
        name: vm.config['name'] ?? `VM ${vm.vmid}`,
        status: vm.status,
        template: vm.config['template'] === '1' ? 1 : undefined,
        tags: vm.config['tags'],
      })),
  'GET /nodes/{node}/qemu/{vmid}/config': (env, p) => configOut(env.st.vmOn(p['node']!, Number(p['vmid']))),
  'PUT /nodes/{node}/qemu/{vmid}/config': async (env, p) => {
    const vm = configPrecheck(env, p);
    await env.st.flock(vm.node, vm.vmid, 10_000, async () => applyConfig(vm, p));
    return null;
  },
  'POST /nodes/{node}/qemu/{vmid}/config': (env, p) => {
    const vm = configPrecheck(env, p);
    return env.st.startTask(vm.node, 'qmconfig', String(vm.vmid), async (log) => {
      await env.st.flock(vm.node, vm.vmid, 10_000, async () => {
        if (vm.config['lock']) throw new Error(`VM is locked (${vm.config['lock']})`);
        await env.st.work(env.taskMs);
        for (const k of Object.keys(p).filter((k) => !['node', 'vmid'].includes(k)))
          log(`update VM ${vm.vmid}: -${k} ${k === 'sshkeys' ? '<hidden>' : p[k]}`);
        applyConfig(vm, p);
      });
    });
  },
  'POST /nodes/{node}/qemu/{vmid}/clone': (env, p) => {
    const { st } = env;
    const node = p['node']!;
    const src = Number(p['vmid']);
    const newid = Number(p['newid']);
    const full = p['full'] === '1';
    const srcVm = st.vms.get(src);
    if (!srcVm || srcVm.node !== node)
      throw new PveFail(500, `unable to find configuration file for VM ${src} on node '${node}'`);
    if (p['storage'] && !full && srcVm.config['template'] === '1')
      throw new PveFail(500, "parameter 'storage' not allowed for linked clones");
    const storage = p['storage'] ?? /^([^:]+):/.exec(srcVm.config['scsi0'] ?? '')?.[1] ?? 'local-lvm';
    const target = p['target'] ?? node;
    if (!env.nodes.includes(target))
      throw new PveFail(400, 'Parameter verification failed.', { target: `no such cluster node '${target}'` });
    if (env.offline.has(target)) throw new PveFail(500, `target node '${target}' is not online`);
    if (!env.storages[storage]) throw new PveFail(500, `storage '${storage}' does not exist`);
    if (target !== node) {
      // Every source volume, the cloud-init drive included, must be on shared storage; so must a storage given with target.
      const vols = Object.keys(srcVm.config)
        .filter((k) => /^(scsi|virtio|sata|ide)\d+$/.test(k))
        .filter((k) => !/media=cdrom/.test(srcVm.config[k]!) || /cloudinit/.test(srcVm.config[k]!));
      if (vols.some((k) => !env.storageInfo[srcVm.config[k]!.split(':')[0]!]?.shared))
        throw new PveFail(500, `can't clone VM to node '${target}' (VM uses local storage)`);
      if (p['storage'] && !env.storageInfo[storage]?.shared)
        throw new PveFail(500, `can't clone to non-shared storage '${storage}'`);
    }
    if (!env.storages[storage]!.includes(target))
      throw new PveFail(500, `storage '${storage}' is not available on node '${target}'`);
    st.require(`/storage/${storage}`, ['Datastore.AllocateSpace']);
    const bridge = /bridge=([^,]+)/.exec(srcVm.config['net0'] ?? '')?.[1];
    if (bridge) st.require(`/sdn/zones/localnetwork/${bridge}`, ['SDN.Use']);
    return st.startTask(node, 'qmclone', String(src), async (log) => {
      await st.flock(
        node,
        src,
        1000,
        () =>
          st.flock(node, newid, 1000, async () => {
            const other = st.vms.get(newid);
            if (other && other.node === node)
              throw new Error(`unable to create VM ${newid}: config file already exists`);
            if (other)
              throw new Error(
                `close (rename) atomic file '/etc/pve/nodes/${node}/qemu-server/${newid}.conf' failed: File exists`,
              );
            const cfg = { ...srcVm.config };
            delete cfg['template'];
            cfg['name'] = p['name'] ?? `Copy-of-VM-${srcVm.config['name'] ?? src}`;
            if (p['description'] !== undefined) cfg['description'] = p['description'];
            cfg['lock'] = 'clone';
            cfg['net0'] = (cfg['net0'] ?? '').replace(/=([0-9A-F]{2}:){5}[0-9A-F]{2}/i, `=${st.newMac()}`);
            const vm: SimVm = { vmid: newid, node: target, config: cfg, status: 'stopped', createdAt: Date.now() };
            st.vms.set(newid, vm);
            for (const k of Object.keys(cfg).filter((k) => /^(scsi|virtio|sata|ide)\d+$/.test(k))) {
              if (/media=cdrom/.test(cfg[k]!) && !/cloudinit/.test(cfg[k]!)) continue;
              const ci = /cloudinit/.test(cfg[k]!);
              const vol = ci ? `${storage}:vm-${newid}-cloudinit` : `${storage}:vm-${newid}-disk-0`;
              if (!ci) log(`create ${full ? 'full' : 'linked'} clone of drive ${k} (${cfg[k]!.split(',')[0]})`);
              cfg[k] = [vol, ...cfg[k]!.split(',').slice(1)].join(',');
            }
            await st.work(env.cloneMs);
            delete cfg['lock'];
          }),
        true,
      );
    });
  },
  'PUT /nodes/{node}/qemu/{vmid}/resize': (env, p) => {
    const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
    return env.st.startTask(vm.node, 'resize', String(vm.vmid), async () => {
      await env.st.flock(vm.node, vm.vmid, 10_000, async () => {
        if (vm.config['lock']) throw new Error(`VM is locked (${vm.config['lock']})`);
        const disk = vm.config[p['disk']!];
        if (!disk) throw new Error(`disk '${p['disk']}' does not exist`);
        if (/media=cdrom/.test(disk)) throw new Error("you can't resize a cdrom");
        const cur = parseSize(/size=([^,]+)/.exec(disk)?.[1] ?? '0');
        const sz = p['size']!;
        const want = sz.startsWith('+') ? cur + parseSize(sz.slice(1)) : parseSize(sz);
        if (want < cur) throw new Error('shrinking disks is not supported');
        env.st.require(`/storage/${disk.split(':')[0]}`, ['Datastore.AllocateSpace']);
        await env.st.work(env.taskMs);
        vm.config[p['disk']!] = disk.replace(/size=[^,]+/, `size=${formatSize(want)}`);
      });
    });
  },
  'POST /nodes/{node}/qemu/{vmid}/status/start': (env, p) => {
    const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
    return env.st.startTask(vm.node, 'qmstart', String(vm.vmid), async () => {
      await env.st.flock(vm.node, vm.vmid, 10_000, async () => {
        if (vm.config['lock']) throw new Error(`VM is locked (${vm.config['lock']})`);
        if (vm.config['template'] === '1') throw new Error("you can't start a vm if it's a template");
        if (vm.status === 'running') throw new Error(`VM ${vm.vmid} already running`);
        const r = await env.hooks.onStart?.(infoOf(vm));
        await env.st.work(env.taskMs);
        vm.status = 'running';
        vm.agent = (r && r.interfaces) ?? env.hooks.agentFor?.(infoOf(vm)) ?? defaultAgent(vm);
      });
    });
  },
  'POST /nodes/{node}/qemu/{vmid}/status/stop': (env, p) => powerOff(env, p, 'qmstop'),
  'POST /nodes/{node}/qemu/{vmid}/status/shutdown': (env, p) => powerOff(env, p, 'qmshutdown'),
  'GET /nodes/{node}/qemu/{vmid}/status/current': (env, p) => {
    const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
    return {
      vmid: vm.vmid,
      status: vm.status,
      qmpstatus: vm.status,
      name: vm.config['name'],
      ...(vm.config['lock'] ? { lock: vm.config['lock'] } : {}),
      ...(vm.config['agent'] ? { agent: 1 } : {}),
      ...(vm.config['tags'] ? { tags: vm.config['tags'] } : {}),
      cpus: Number(vm.config['cores'] ?? 1),
      uptime: 0,
      maxmem: 0,
      mem: 0,
      maxdisk: 0,
      ha: { managed: 0 },
    };
  },
  'GET /nodes/{node}/qemu/{vmid}/agent/network-get-interfaces': (env, p) => {
    const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
    if (!/^(enabled=)?1/.test(vm.config['agent'] ?? '')) throw new PveFail(500, 'No QEMU guest agent configured');
    if (vm.status !== 'running') throw new PveFail(500, `VM ${vm.vmid} is not running`);
    if (!vm.agent) throw new PveFail(500, 'QEMU guest agent is not running');
    return { result: vm.agent };
  },
  'DELETE /nodes/{node}/qemu/{vmid}': (env, p) => {
    const vm = env.st.vmOn(p['node']!, Number(p['vmid']));
    if (vm.status === 'running') throw new PveFail(500, `VM ${vm.vmid} is running - destroy failed`);
    const sid = `vm:${vm.vmid}`;
    if (env.st.ha.resources.has(sid) && p['purge'] !== '1')
      throw new PveFail(500, `unable to remove VM ${vm.vmid} - used in HA resources and purge parameter not set.`);
    return env.st.startTask(vm.node, 'qmdestroy', String(vm.vmid), async (log) => {
      await env.st.flock(vm.node, vm.vmid, 10_000, async () => {
        if (vm.config['lock']) throw new Error(`VM is locked (${vm.config['lock']})`);
        vm.config['lock'] = 'destroyed';
        for (const k of Object.keys(vm.config).filter((k) => /^(scsi|virtio|sata|ide)\d+$/.test(k)))
          log(`Removing image: ${vm.config[k]!.split(',')[0]}`);
        await env.st.work(env.taskMs);
        env.st.vms.delete(vm.vmid);
        if (p['purge'] === '1') {
          log(`purging VM ${vm.vmid} from related configurations..`);
          env.st.ha.resources.delete(sid);
          for (const [id, r] of env.st.ha.rules) {
            const left = (r['resources'] ?? '').split(',').filter((x) => x && x !== sid);
            if (left.length) r['resources'] = left.join(',');
            else env.st.ha.rules.delete(id);
          }
        }
        await env.hooks.onDelete?.(infoOf(vm));
      });
    });
  },
  'GET /nodes/{node}/tasks/{upid}/status': (env, p) => {
    const t = task(env, p);
    const [user, tokenid] = `${env.st.user}!${env.st.tokenName}`.split('!');
    return {
      upid: t.upid,
      node: t.node,
      pid: t.pid,
      pstart: 0xc8e2b1,
      starttime: t.starttime,
      type: t.type,
      id: t.id,
      user,
      tokenid,
      status: t.status,
      ...(t.status === 'stopped' ? { exitstatus: t.exitstatus } : {}),
    };
  },
  'GET /nodes/{node}/tasks/{upid}/log': (env, p) => {
    const t = task(env, p);
    const start = Number(p['start'] ?? 0);
    const limit = Number(p['limit'] ?? 50);
    const lines = t.log.length ? t.log : ['no content'];
    return lines.slice(start, limit === 0 ? undefined : start + limit).map((t, i) => ({ n: start + i + 1, t }));
  },
};
