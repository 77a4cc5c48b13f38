// HAProxy stats CSV (the stats page's `/;csv`, same columns as `show stat` on the socket).

export interface StatRow {
  pxname: string;
  svname: string;
  status: string;
  checkStatus: string;
}

/** Parse the CSV; the header line starts with "# " and names the columns. */
export function parseStatCsv(text: string): StatRow[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const headerLine = lines.find((l) => l.startsWith('# '));
  if (!headerLine) return [];
  const header = headerLine.slice(2).split(',');
  const col = (name: string, fallback: number) => {
    const i = header.indexOf(name);
    return i >= 0 ? i : fallback;
  };
  const iPx = col('pxname', 0);
  const iSv = col('svname', 1);
  const iStatus = col('status', 17);
  const iCheck = col('check_status', 36);
  return lines
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.split(','))
    .map((f) => ({
      pxname: f[iPx] ?? '',
      svname: f[iSv] ?? '',
      status: f[iStatus] ?? '',
      checkStatus: f[iCheck] ?? '',
    }));
}

/** Servers counted UP per proxy: rows that are neither FRONTEND nor BACKEND and whose status starts with UP. */
export function upServers(rows: StatRow[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const r of rows) {
    if (r.svname === 'FRONTEND' || r.svname === 'BACKEND') continue;
    out[r.pxname] ??= [];
    if (/^UP\b/.test(r.status)) out[r.pxname]!.push(r.svname);
  }
  for (const k of Object.keys(out)) out[k]!.sort();
  return out;
}
