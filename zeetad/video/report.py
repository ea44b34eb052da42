"""What an extraction run did: counts, failures with reasons, throughput; printed as a table."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional


@dataclass
class ExtractReport:
    """Outcome of one extraction run (one rank, or several combined with :meth:`combine`).

    ``decode_s`` sums the decoding workers' seconds (decode + resize), so
    ``frames / decode_s`` is the per-worker decode rate; ``encode_s`` is the
    encoder's wall time in the main process.
    """
    out_path: str = ''
    done: List[str] = field(default_factory=list)
    skipped: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)
    frames: int = 0
    elapsed_s: float = 0.0
    decode_s: float = 0.0
    encode_s: float = 0.0
    num_workers: int = 0
    interrupted: bool = False
    dropped_incomplete: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted

    def rates(self) -> Dict[str, Optional[float]]:
        """frames/s overall, per decoding worker, and of the encoder alone (``None`` if unmeasured)."""
        def rate(seconds: float) -> Optional[float]:
            return self.frames / seconds if seconds > 0 and self.frames else None
        return dict(overall=rate(self.elapsed_s), decode_per_worker=rate(self.decode_s), encode=rate(self.encode_s))

    @classmethod
    def combine(cls, reports: Iterable['ExtractReport'], out_path: str = '') -> 'ExtractReport':
        """Sum of several ranks' reports (elapsed: the slowest rank)."""
        total = cls(out_path=out_path)
        for r in reports:
            total.done += r.done
            total.skipped += r.skipped
            total.failed.update(r.failed)
            total.frames += r.frames
            total.elapsed_s = max(total.elapsed_s, r.elapsed_s)
            total.decode_s += r.decode_s
            total.encode_s += r.encode_s
            total.num_workers += r.num_workers
            total.interrupted |= r.interrupted
            total.dropped_incomplete += r.dropped_incomplete
        return total


def _fmt_rate(value: Optional[float]) -> str:
    return '-' if value is None else f'{value:,.1f}'


def summary_rows(report: ExtractReport) -> List[tuple]:
    rates = report.rates()
    rows = [('done', str(len(report.done))), ('skipped (already complete)', str(len(report.skipped))),
            ('failed', str(len(report.failed))), ('frames encoded', f'{report.frames:,}'),
            ('wall time', f'{report.elapsed_s:.1f} s'), ('frames/s overall', _fmt_rate(rates['overall'])),
            ('decode frames/s per worker', _fmt_rate(rates['decode_per_worker'])),
            ('encode frames/s', _fmt_rate(rates['encode']))]
    if report.interrupted:
        rows.append(('status', 'INTERRUPTED: rerun the same command to resume'))
    return rows


def format_summary(report: ExtractReport, plain: bool = False, width: int = 100) -> str:
    """The end-of-run summary: a rich table (or plain text) with every failure and its reason."""
    if not plain:
        try:
            return _rich_summary(report, width)
        except ImportError:
            pass
    lines = [f'Extraction summary: {report.out_path}']
    rows = summary_rows(report)
    pad = max(len(k) for k, _ in rows)
    lines += [f'  {k:<{pad}}  {v}' for k, v in rows]
    if report.failed:
        lines.append('Failed videos:')
        lines += [f'  {vid}: {reason}' for vid, reason in sorted(report.failed.items())]
    return '\n'.join(lines)


def _rich_summary(report: ExtractReport, width: int) -> str:
    from rich.console import Console
    from rich.table import Table
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=False, color_system=None)
    table = Table(title=f'Extraction summary: {report.out_path}', show_header=False)
    table.add_column('what')
    table.add_column('value', justify='right')
    for key, value in summary_rows(report):
        table.add_row(key, value)
    console.print(table)
    if report.failed:
        failures = Table(title='Failed videos (retried on the next run)')
        failures.add_column('video')
        failures.add_column('reason', overflow='fold')
        for vid, reason in sorted(report.failed.items()):
            failures.add_row(vid, reason)
        console.print(failures)
    return buf.getvalue().rstrip('\n')
