// The variables of the demo playbook's templates (playbooks/demo.yml, templates/demo/): declared like a
// component's, so that the inventory may set them. It brings no steps of its own: the playbook's tasks render
// the templates.
import type { ComponentEntry } from '../entry.js';
import { defineSettings } from '../settings.js';

export const demoVars = defineSettings({
  greeting: {
    name: 'demo_greeting',
    type: 'string',
    default: 'hello',
    pattern: '^[^\\n]*$',
    level: 'host',
    doc: 'The demo playbook: the word the greeting service answers with (default hello).',
  },
  port: {
    name: 'demo_port',
    type: 'int',
    default: 8080,
    min: 1,
    max: 65535,
    level: 'host',
    doc: 'The demo playbook: TCP port of the greeting service (default 8080) (1-65535).',
  },
});

export const demoEntry: ComponentEntry = { settings: demoVars, prefixes: ['demo_'] };
