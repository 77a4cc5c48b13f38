// pgha import ansible INVENTORY: an Ansible inventory (autobase layout) as a pgha inventory, on stdout or into a
// file. Every variable it could not map is a comment in the output and a line on stderr; it contacts nothing.
import { existsSync, writeFileSync } from 'node:fs';
import { importAnsible } from '../../import/ansible/index.js';
import { UserError } from '../../util/errors.js';

export interface ImportCommandOptions {
  output?: string;
  force?: boolean;
  provider?: 'static' | 'lab';
  cluster?: string;
  json?: boolean;
}

export function importCommand(
  source: string,
  o: ImportCommandOptions,
  err: (line: string) => void = (l) => process.stderr.write(l + '\n'),
) {
  if (!existsSync(source))
    throw new UserError(
      `${source} does not exist`,
      'name an Ansible inventory file (INI or YAML) or the folder that holds it',
    );
  if (o.output && existsSync(o.output) && !o.force) {
    throw new UserError(`${o.output} exists already`, 'choose another --output file, or add --force to replace it');
  }
  const r = importAnsible(source, { provider: o.provider, cluster: o.cluster });
  if (o.output) {
    writeFileSync(o.output, r.text, { mode: 0o644 });
    err(`wrote ${o.output}; check it with: pgha validate -i ${o.output}`);
  } else if (!o.json) {
    process.stdout.write(r.text);
  }
  if (r.unmapped.length)
    err(
      `${r.unmapped.length} variable${r.unmapped.length === 1 ? '' : 's'} not imported (comments in the output say why):`,
    );
  for (const u of r.unmapped) err(`  ${u.name} [${u.where}]: ${u.why}`);
  return { ok: true, source, output: o.output, text: r.text, unmapped: r.unmapped };
}
