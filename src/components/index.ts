// The registry the playbook loader resolves `component:` names against.
import type { Component } from '../engine/types.js';
import { etcd } from './etcd/steps.js';
import { patroni } from './patroni/steps.js';
import { haproxy } from './haproxy/steps.js';
import { keepalived } from './keepalived/steps.js';
import { verify } from './verify/index.js';

export const components: Record<string, Component> = { etcd, patroni, haproxy, keepalived, verify };

export { SECRET_KEYS } from './secrets.js';
