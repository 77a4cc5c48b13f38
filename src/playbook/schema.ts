// JSON Schema of playbooks (playbooks/*.yml). Every field is documented here.

const svcList = { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9@_.:-]+$' } };
const notify = {
  restarts: {
    ...svcList,
    description: "Services restarted (once, at the end of the host's tasks) when this task changed something.",
  },
  reloads: {
    ...svcList,
    description: 'Services reloaded when this task changed something (a restart of the same service wins).',
  },
};
const mode = { type: 'string', pattern: '^0?[0-7]{3,4}$', description: 'Octal mode, e.g. "0644".' };

const task = {
  type: 'object',
  additionalProperties: false,
  description: 'One built-in action. Exactly one of file, directory, packages, service, command.',
  properties: {
    name: { type: 'string', description: 'What the task is for (shown in plan and logs).' },
    file: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      description:
        'A file from a handlebars template or from literal content; written atomically, previous version kept.',
      properties: {
        path: { type: 'string', pattern: '^/', description: 'Absolute path on the host.' },
        template: { type: 'string', description: "Template file, relative to the playbook's folder or to templates/." },
        content: { type: 'string', description: 'Literal content (instead of a template).' },
        vars: { type: 'object', description: "Extra template variables (over the host's merged vars)." },
        owner: { type: 'string', description: 'Owner (default root).' },
        group: { type: 'string', description: 'Group (default root).' },
        mode,
        validate: {
          type: 'string',
          description: 'Command run against the new file before it replaces the old one; %s is its temp path.',
        },
        secret: { type: 'boolean', description: 'The content holds secrets: never shown in a diff.' },
        ...notify,
      },
    },
    directory: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      description: 'A directory with owner, group and mode.',
      properties: {
        path: { type: 'string', pattern: '^/' },
        owner: { type: 'string' },
        group: { type: 'string' },
        mode,
      },
    },
    packages: {
      type: 'array',
      minItems: 1,
      items: { type: 'string', pattern: '^[a-z0-9][a-z0-9+.:=~-]*$' },
      description: 'Debian packages that must be installed.',
    },
    service: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      description: 'A systemd service: enabled at boot and/or started/stopped.',
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9@_.:-]+$' },
        enabled: { type: 'boolean' },
        state: { enum: ['started', 'stopped'] },
      },
    },
    command: {
      type: 'object',
      additionalProperties: false,
      description: 'A command with an explicit guard: it runs only when `unless` fails or `creates` is missing.',
      properties: {
        argv: {
          type: 'array',
          minItems: 1,
          items: { type: 'string' },
          description: 'Program and arguments (each POSIX-quoted).',
        },
        script: { type: 'string', description: 'A shell script (instead of argv).' },
        unless: { type: 'string', description: 'Read-only shell test: when it succeeds, the command is skipped.' },
        creates: { type: 'string', pattern: '^/', description: 'When this path exists, the command is skipped.' },
        ...notify,
      },
    },
  },
  oneOf: ['file', 'directory', 'packages', 'service', 'command'].map((k) => ({ required: [k] })),
};

export const playbookSchema = {
  $id: 'https://pgha.dev/schema/playbook.json',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'plays'],
  properties: {
    name: { type: 'string', description: 'Name of the playbook.' },
    description: { type: 'string', description: 'What the playbook does.' },
    plays: {
      type: 'array',
      minItems: 1,
      description: 'Plays, run in order. Each names which hosts it runs on and what: a component, one step, or tasks.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['hosts'],
        properties: {
          name: {
            type: 'string',
            description: 'Title shown in progress output (default: the component, step or "tasks").',
          },
          hosts: { type: 'string', description: 'Role, group or host names, comma-separated, or "all".' },
          component: {
            type: 'string',
            description: 'Run every step of a built-in component (etcd, patroni, haproxy, keepalived, verify).',
          },
          step: { type: 'string', description: 'Run one built-in step by id, e.g. "haproxy.config".' },
          tasks: {
            type: 'array',
            minItems: 1,
            items: task,
            description: 'Built-in actions, applied in order on each host.',
          },
          serial: {
            type: 'boolean',
            description: 'Rolling: one host at a time (in inventory order) instead of all in parallel.',
          },
        },
        oneOf: [{ required: ['component'] }, { required: ['step'] }, { required: ['tasks'] }],
      },
    },
  },
} as const;
