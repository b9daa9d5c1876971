/** The bench's report: a Markdown table on stdout and the same numbers as JSON. */
import { writeFile } from 'node:fs/promises';
import { MiB, type Results, type Sizes } from './context.js';
import type { Workload } from './workloads/workload.js';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

export interface Report {
  quick: boolean;
  cores: number;
  sizes: Sizes;
  versions: Record<string, string | number>;
  results: Results;
  workloads: readonly Workload[];
}

/** The summary lines: each workload's, then the footprint of xfer's client and server. */
function summarize({ sizes, results, workloads }: Report): Record<string, number> {
  const medianOf = (workload: string, tool: string) =>
    median(
      results.rows.find((r) => r.workload === workload && r.tool === tool)?.runs.map((s) => s.seconds) ?? [],
    );
  return Object.fromEntries([
    ...workloads.flatMap((w) => w.summary(sizes, medianOf)),
    ['client peak RSS (MiB), one big file', results.clientPeakRssMiB],
    ['server peak RSS (MiB), whole bench', results.serverPeakRssMiB],
    ['client CPU s per GiB', results.clientCpuPerGiB],
    ['server CPU s per GiB', results.serverCpuPerGiB],
  ]);
}

function table(report: Report, summary: Record<string, number>): string[] {
  const { rows, bytes } = report.results;
  const lines = [
    `xfer benchmark — ${report.cores} cores, Node ${process.version}, ${report.quick ? 'quick' : 'full'} run, ${report.sizes.runs} runs each (median [min–max])`,
    '',
    '| workload | tool | wall time (s) | MiB/s | vs xfer | peak RSS (MiB) | CPU s |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const secs = r.runs.map((s) => s.seconds);
    const m = median(secs);
    const xfer = rows.find((x) => x.workload === r.workload && x.tool.startsWith('xfer'));
    const ratio = m / median(xfer?.runs.map((s) => s.seconds) ?? []);
    const rss = r.runs.map((s) => s.rssMiB ?? 0).filter((x) => x > 0);
    const cpu = r.runs.map((s) => s.cpuSeconds ?? 0).filter((x) => x > 0);
    lines.push(
      `| ${r.workload} | ${r.tool} | ${m.toFixed(2)} [${Math.min(...secs).toFixed(2)}–${Math.max(...secs).toFixed(2)}] | ${((bytes.get(r.workload) ?? 0) / MiB / m).toFixed(0)} | ${r === xfer ? '1.00' : `${ratio.toFixed(2)}x`} | ${rss.length ? Math.max(...rss).toFixed(0) : '–'} | ${cpu.length ? median(cpu).toFixed(2) : '–'} |`,
    );
  }
  lines.push('', '| summary | value |', '|---|---|');
  for (const [k, v] of Object.entries(summary))
    lines.push(`| ${k} | ${Number.isFinite(v) ? v.toFixed(2) : 'n/a'} |`);
  lines.push(
    '',
    `Peers: ${Object.entries(report.versions)
      .map(([k, v]) => `${k}: ${v}`)
      .join('; ')}`,
  );
  return lines;
}

/** Prints the table on stdout and writes the JSON to `outFile`. */
export async function writeReport(report: Report, outFile: string): Promise<void> {
  const summary = summarize(report);
  process.stdout.write(`${table(report, summary).join('\n')}\n`);
  const { quick, sizes, versions, results } = report;
  const json = { date: new Date().toISOString(), quick, sizes, versions, summary, rows: results.rows };
  await writeFile(outFile, `${JSON.stringify(json, null, 2)}\n`);
}
