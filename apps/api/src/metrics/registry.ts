/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>;

/** One metric family that can write itself in the Prometheus text format (version 0.0.4). */
interface Family {
  render(): string;
}

/** A monotonically increasing count per label set. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

/** A distribution of observations in cumulative buckets, with sum and count. */
export interface Histogram {
  observe(labels: Labels, value: number): void;
}

/** A value read at scrape time (may be async: queue counts come from Redis). */
export type GaugeCollector = () => Promise<ReadonlyArray<{ labels: Labels; value: number }>>;

/**
 * A small hand-written Prometheus registry (the API needs counters, one histogram and a few
 * scrape-time gauges; not worth a dependency). `render()` produces the exposition text.
 */
export class MetricsRegistry {
  private readonly families: Family[] = [];
  private readonly collectors: Array<{ name: string; help: string; type: 'gauge' | 'counter'; collect: GaugeCollector }> = [];

  counter(name: string, help: string): Counter {
    const series = new Map<string, { labels: Labels; value: number }>();
    this.families.push({
      render: () => header(name, help, 'counter') + [...series.values()].map((s) => line(name, s.labels, s.value)).join(''),
    });
    return {
      inc(labels = {}, by = 1) {
        const key = labelKey(labels);
        const s = series.get(key) ?? { labels, value: 0 };
        s.value += by;
        series.set(key, s);
      },
    };
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
    this.families.push({
      render: () => {
        let out = header(name, help, 'histogram');
        for (const s of series.values()) {
          let cumulative = 0;
          buckets.forEach((le, i) => {
            cumulative += s.counts[i] ?? 0;
            out += line(`${name}_bucket`, { ...s.labels, le: String(le) }, cumulative);
          });
          out += line(`${name}_bucket`, { ...s.labels, le: '+Inf' }, s.count);
          out += line(`${name}_sum`, s.labels, s.sum);
          out += line(`${name}_count`, s.labels, s.count);
        }
        return out;
      },
    });
    return {
      observe(labels, value) {
        const key = labelKey(labels);
        const s = series.get(key) ?? { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        const i = buckets.findIndex((le) => value <= le);
        if (i >= 0) s.counts[i] = (s.counts[i] ?? 0) + 1;
        s.sum += value;
        s.count += 1;
        series.set(key, s);
      },
    };
  }

  /** A family whose series are read when scraped. */
  collect(name: string, help: string, type: 'gauge' | 'counter', collect: GaugeCollector): void {
    this.collectors.push({ name, help, type, collect });
  }

  /** The exposition text; a failing collector is skipped (its family is left out of this scrape). */
  async render(): Promise<string> {
    let out = this.families.map((f) => f.render()).join('');
    for (const c of this.collectors) {
      try {
        const series = await c.collect();
        out += header(c.name, c.help, c.type) + series.map((s) => line(c.name, s.labels, s.value)).join('');
      } catch {
        // Redis down: the other families still render.
      }
    }
    return out;
  }
}

/** Content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${name} ${type}\n`;
}

function line(name: string, labels: Labels, value: number): string {
  const entries = Object.entries(labels);
  const text = entries.length ? `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
  return `${name}${text} ${formatValue(value)}\n`;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
