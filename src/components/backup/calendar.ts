// systemd calendar events (systemd.time(7), OnCalendar=): a syntax check on the control machine, so a schedule
// that does not parse is refused at its inventory line before anything changes. The hosts' systemd reads the
// same text; the check follows its grammar: [weekdays] [[year-]month-day] [hour:minute[:second]] [timezone].

const SHORTHANDS = [
  'minutely',
  'hourly',
  'daily',
  'monthly',
  'weekly',
  'yearly',
  'annually',
  'quarterly',
  'semiannually',
];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DAY_NAMES = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

function weekday(w: string): boolean {
  const l = w.toLowerCase();
  return DAYS.includes(l) || DAY_NAMES.includes(l);
}

/** A weekday list: Mon,Wed..Fri. */
function weekdays(tok: string): boolean {
  return tok.split(',').every((part) => {
    const r = part.split('..');
    return r.length <= 2 && r.every(weekday);
  });
}

/** One component (a year, month, hour, ...): *, values, ranges a..b, repetitions a/n, lists of those. */
function component(tok: string, min: number, max: number, fraction = false): string | undefined {
  const num = fraction ? /^[0-9]+(\.[0-9]+)?$/ : /^[0-9]+$/;
  for (const part of tok.split(',')) {
    const [base = '', rep, ...more] = part.split('/');
    if (more.length) return `'${part}' has two '/'`;
    if (rep !== undefined && !/^[0-9]+(\.[0-9]+)?$/.test(rep)) return `'${rep}' is not a repetition`;
    if (base === '*') continue;
    const ends = base.split('..');
    if (ends.length > 2) return `'${base}' is not a range`;
    for (const e of ends) {
      if (!num.test(e)) return `'${e}' is not a number`;
      const n = Number(e);
      if (n < min || n > max) return `${e} is outside ${min}..${max}`;
    }
  }
  return undefined;
}

function date(tok: string): string | undefined {
  // ~ counts days from the month's end (2023-02~1: the second last day).
  const tilde = tok.indexOf('~');
  const parts = tilde >= 0 ? [...tok.slice(0, tilde).split('-'), tok.slice(tilde + 1)] : tok.split('-');
  if (parts.length === 3) {
    return (
      component(parts[0]!, 1970, 2199) ??
      component(parts[1]!, 1, 12) ??
      component(parts[2]!, 1, 31) ??
      (tilde >= 0 && parts[0] === '' ? 'no year' : undefined)
    );
  }
  if (parts.length === 2) return component(parts[0]!, 1, 12) ?? component(parts[1]!, 1, 31);
  return `'${tok}' is not a date (year-month-day or month-day)`;
}

function time(tok: string): string | undefined {
  const parts = tok.split(':');
  if (parts.length < 2 || parts.length > 3) return `'${tok}' is not a time (hour:minute[:second])`;
  return component(parts[0]!, 0, 23) ?? component(parts[1]!, 0, 59) ?? component(parts[2] ?? '0', 0, 59, true);
}

function timezone(tok: string): boolean {
  return /^(UTC|[A-Z][A-Za-z_+-]*(\/[A-Za-z0-9_+-]+)*)$/.test(tok);
}

/** Why `expr` is not a calendar event systemd reads, or undefined when it is one. */
export function calendarProblem(expr: string): string | undefined {
  const text = expr.trim();
  if (text === '') return 'it is empty';
  if (SHORTHANDS.includes(text.toLowerCase())) return undefined;
  const toks = text.split(/\s+/);
  let i = 0;
  let any = false;
  if (toks[i] && weekdays(toks[i]!)) {
    i++;
    any = true;
  }
  if (toks[i] && toks[i]!.includes('-') && !toks[i]!.includes(':')) {
    const p = date(toks[i]!);
    if (p) return p;
    i++;
    any = true;
  }
  if (toks[i] && toks[i]!.includes(':')) {
    const p = time(toks[i]!);
    if (p) return p;
    i++;
    any = true;
  }
  if (any && toks[i] && timezone(toks[i]!) && i === toks.length - 1) i++;
  if (i < toks.length) return `'${toks[i]}' is not a weekday, date, time or timezone`;
  return any ? undefined : 'it has no weekday, date or time';
}
