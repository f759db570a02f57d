/** A one-line progress bar on a terminal's stderr; silent when stderr is not a terminal (CI, pipes, --json). */
export function progressBar(label: string, enabled = Boolean(process.stderr.isTTY)) {
  const started = Date.now();
  let last = 0;
  return {
    update(done: number, total: number, extra = '') {
      if (!enabled) return;
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      const secs = (now - started) / 1000;
      const eta = done > 0 && total > done ? ` eta ${((secs / done) * (total - done)).toFixed(0)}s` : '';
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${secs.toFixed(0)}s${eta} ${extra}\x1b[K`);
    },
    done() {
      if (enabled) process.stderr.write('\n');
    },
  };
}
