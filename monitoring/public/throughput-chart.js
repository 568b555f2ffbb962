// The throughput chart: tasks finished per second over the last minutes, one line per task type
// plus the total. uPlot comes from /vendor/uPlot.iife.min.js (served from node_modules).

const PALETTE = ['#5aa9ff', '#ffb454', '#7ee787', '#ff7b72', '#d2a8ff', '#79c0ff', '#f2cc60', '#56d4dd'];

export class ThroughputChart {
  constructor(element) {
    this.element = element;
    this.plot = null;
    this.seriesKey = '';
    new ResizeObserver(() => this.resize()).observe(element);
  }

  /** `view` is the tasks topic's `throughput`: { end, total, types }. */
  update(view) {
    if (!view || !globalThis.uPlot) return;
    const n = view.total.length;
    const xs = Array.from({ length: n }, (_, i) => view.end - n + 1 + i);
    const types = Object.keys(view.types);
    const data = [xs, view.total, ...types.map((t) => view.types[t])];
    const key = types.join(',');
    if (this.plot === null || key !== this.seriesKey) {
      this.plot?.destroy();
      this.seriesKey = key;
      this.plot = new globalThis.uPlot(this.options(types), data, this.element);
    } else {
      this.plot.setData(data);
    }
  }

  options(types) {
    const axis = { stroke: '#8b949e', grid: { stroke: '#21262d', width: 1 }, ticks: { stroke: '#30363d' } };
    return {
      width: Math.max(200, this.element.clientWidth),
      height: 200,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.15)] } },
      axes: [axis, { ...axis, size: 44, label: 'tasks/s', labelSize: 14 }],
      series: [
        {},
        { label: 'all types', stroke: '#e6edf3', width: 2, fill: 'rgba(230,237,243,0.06)' },
        ...types.map((t, i) => ({ label: t, stroke: PALETTE[i % PALETTE.length], width: 1.5 })),
      ],
    };
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: Math.max(200, this.element.clientWidth), height: 200 });
  }
}
