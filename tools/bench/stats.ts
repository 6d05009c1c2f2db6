/** Latency samples → percentiles, kept as a plain array (a bench step has at most ~10^5 samples). */
export class Samples {
  private readonly values: number[] = [];
  private sorted: number[] | undefined;

  add(value: number): void {
    this.values.push(value);
    this.sorted = undefined;
  }

  get count(): number {
    return this.values.length;
  }

  /** Nearest-rank percentile (p in 0..100); NaN when there are no samples. */
  percentile(p: number): number {
    if (this.values.length === 0) return Number.NaN;
    this.sorted ??= [...this.values].sort((a, b) => a - b);
    const index = Math.min(this.sorted.length - 1, Math.ceil((p / 100) * this.sorted.length) - 1);
    return this.sorted[Math.max(0, index)] ?? Number.NaN;
  }
}

export function fmt(value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-';
}

/** `a / b` for the comparison tables: '-' when either side is missing or b is 0. */
export function ratio(a: number, b: number, digits = 2): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(digits)}×` : '-';
}

/** A Markdown table with padded columns (readable in a terminal, pastes into docs as is). */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((width, i) => (i === 0 ? `:${'-'.repeat(width + 1)}` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}
