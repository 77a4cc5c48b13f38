// Which lab machines a stop or a destroy touches under --limit, and whether the lab's shared parts go with them:
// the bridge and the package cache stop only when no machine of the lab is left running, and the lab's state
// folder (hosts, cache data) is removed only when no machine is left on disk.

export interface LabMachine {
  name: string;
  running: boolean;
  /** Its folder (disk) exists. */
  onDisk: boolean;
}

export interface LabPlan {
  /** Machines to stop (every chosen one is torn down; these were running). */
  chosen: string[];
  /** Chosen machines whose disk goes (destroy only). */
  remove: string[];
  /** Machines of the lab outside the selection that are running: they keep the bridge and the cache. */
  othersRunning: string[];
  stopShared: boolean;
  removeState: boolean;
}

/** `machines`: every machine of the lab (the inventory's and leftovers on disk); `limit`: --limit's names, if given. */
export function labPlan(action: 'down' | 'destroy', machines: LabMachine[], limit?: string[]): LabPlan {
  const inLimit = (m: LabMachine) => !limit || limit.includes(m.name);
  const chosen = machines.filter(inLimit);
  const others = machines.filter((m) => !inLimit(m));
  const othersRunning = others.filter((m) => m.running).map((m) => m.name);
  return {
    chosen: chosen.map((m) => m.name),
    remove: action === 'destroy' ? chosen.filter((m) => m.onDisk).map((m) => m.name) : [],
    othersRunning,
    stopShared: othersRunning.length === 0,
    removeState: action === 'destroy' && others.every((m) => !m.onDisk && !m.running),
  };
}
