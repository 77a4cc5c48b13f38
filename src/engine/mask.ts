// Secrets never appear in logs, diffs or JSON: every line that leaves pgha passes through mask().
// A secret is masked as it is and as it appears inside a JSON string (`"` and `\` escaped), whatever its length.

const secrets = new Set<string>();
export const MASK = '********';

export function addSecret(value: string | undefined | null): void {
  if (!value) return;
  secrets.add(value);
  const escaped = JSON.stringify(value).slice(1, -1);
  if (escaped !== value) secrets.add(escaped);
}

export function mask(text: string): string {
  let out = text;
  // Longest first, so a secret that contains another is masked whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
  return out;
}

export function clearSecrets(): void {
  secrets.clear();
}
