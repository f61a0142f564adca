"""A self-contained HTML report of recorded runs: a timeline and per-node bar charts.

Everything is inline (CSS, SVG; no script, font or image is fetched), so the
file opens offline and can be attached to a ticket. Built from metrics dicts
(:mod:`remotemedia.metrics`): one run, or a list of runs (a batch: per node
p50/p95/p99 over the runs, and the timeline of the slowest run).
"""

from __future__ import annotations

import html
from typing import Any, Dict, List, Optional, Sequence, Set, Union

from remotemedia.metrics.aggregate import aggregate

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#bab0ac",
            "#86bcb6", "#d37295", "#a0cbe8")
_FAILED = "#d62728"

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin-bottom:12px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:18px}.card span{color:#666;font-size:12px}
.ok{color:#2a7d2a}.failed{color:#d62728}.not_run,.cancelled{color:#888}
table{border-collapse:collapse;margin-top:6px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #eee;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600}td.l,th.l{text-align:left}
.charts{display:flex;gap:24px;flex-wrap:wrap}
svg text{font:12px system-ui,sans-serif;fill:#222}svg .axis{stroke:#999;stroke-width:1}svg .grid{stroke:#eee}
svg .lbl{fill:#fff;font-size:11px}svg .muted{fill:#666}
.fused{display:inline-block;margin-left:6px;padding:0 5px;border-radius:3px;background:#e8eef7;color:#2c5282;
font-size:11px;font-weight:600}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px}
"""


def html_report(metrics: Union[Dict[str, Any], Sequence[Dict[str, Any]]], title: Optional[str] = None) -> str:
    """The report as an HTML document.

    Args:
        metrics: one run's metrics dict, or a list of them (a batch).
        title: the page title; default from the pipeline name.

    Returns:
        The HTML text (UTF-8, no external resource).
    """
    if isinstance(metrics, dict):
        body = _single(metrics)
        name = metrics.get("pipeline", "pipeline")
        title = title or f"remotemedia metrics: {name}"
    else:
        runs = [r for r in metrics if r.get("run_id") is not None]
        body = _batch(runs)
        names = sorted({r["pipeline"] for r in runs}) or ["pipeline"]
        title = title or f"remotemedia metrics: {', '.join(names)} (batch of {len(runs)})"
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{_e(title)}</h1>{body}</body></html>\n")


# ------------------------------------------------------------------ pages
def _single(run: Dict[str, Any]) -> str:
    if run.get("run_id") is None:
        return "<p class=\"sub\">No run recorded (metrics disabled, or the pipeline has not run).</p>"
    nodes = _ran(run)
    colors = {nid: _PALETTE[i % len(_PALETTE)] for i, nid in enumerate(nodes)}
    peak = max((n["peak_memory_bytes"] for n in nodes.values()), default=0)
    cards = _cards([
        (run["status"], "status", run["status"]),
        (_ms(run["total_wall_us"]), "wall time", ""),
        (_ms(run["total_cpu_us"]), "process CPU time", ""),
        (str(len(nodes)), "nodes run", ""),
        (str(len(run["calls"])), "node calls", ""),
        (str(run["lanes"]), "concurrent lanes", ""),
        (_bytes(peak), "largest node peak", ""),
    ])
    sub = (f"<div class=\"sub\">run {run['run_id']} &middot; started {_e(run['started_at'])} &middot; memory: "
           f"{_e(run['memory_tracking'])}{' &middot; error: ' + _e(run['error']) if run['error'] else ''}</div>")
    order = list(nodes)
    time_bars = _hbars([(nid, nodes[nid]["wall_us"] / 1000, None, None) for nid in order], colors,
                       "Wall time per node (ms, all calls)", _fmt_ms)
    mem_bars = _hbars([(nid, nodes[nid]["peak_memory_bytes"] / 1e6, None, None) for nid in order], colors,
                      "Peak memory per node (MB)", _fmt_mb)
    return (sub + cards + "<h2>Timeline</h2>" + _timeline(run, colors) + _legend(colors)
            + "<h2>Per node</h2><div class=\"charts\">" + time_bars + mem_bars + "</div>"
            + _node_table(run, _fused_nodes([run])))


def _batch(runs: List[Dict[str, Any]]) -> str:
    if not runs:
        return "<p class=\"sub\">No run recorded.</p>"
    agg = aggregate(runs)
    nodes = agg["nodes"]
    colors = {nid: _PALETTE[i % len(_PALETTE)] for i, nid in enumerate(nodes)}
    tw = agg["total_wall_us"]
    cards = _cards([
        (str(agg["runs"]), "runs (files)", ""),
        (str(agg["failed_runs"]), "failed runs", "failed" if agg["failed_runs"] else "ok"),
        (_ms(tw["p50"]), "run wall time p50", ""),
        (_ms(tw["p95"]), "run wall time p95", ""),
        (_ms(tw["p99"]), "run wall time p99", ""),
        (_ms(tw["max"]), "slowest run", ""),
    ])
    time_bars = _hbars([(nid, n["wall_us"]["p50"] / 1000, n["wall_us"]["p95"] / 1000, n["wall_us"]["p99"] / 1000)
                        for nid, n in nodes.items()], colors, "Wall time per node and run (ms): p50 bar, p95 |, p99 ◆",
                       _fmt_ms)
    mem_bars = _hbars([(nid, n["peak_memory_bytes"]["p50"] / 1e6, n["peak_memory_bytes"]["p95"] / 1e6,
                        n["peak_memory_bytes"]["p99"] / 1e6) for nid, n in nodes.items()], colors,
                      "Peak memory per node and run (MB): p50 bar, p95 |, p99 ◆", _fmt_mb)
    rows = []
    fused = _fused_nodes(runs)
    for nid, n in nodes.items():
        w, c, m = n["wall_us"], n["cpu_us"], n["peak_memory_bytes"]
        rows.append(f"<tr><td class=l>{_swatch(colors[nid])}{_e(nid)}{_FUSED if nid in fused else ''}</td>"
                    f"<td class=l>{_e(n['node_type'])}</td>"
                    f"<td class=l>{_e(n['implementation'])}</td><td>{n['runs']}</td><td>{n['errors']}</td>"
                    f"<td>{_ms(w['p50'])}</td><td>{_ms(w['p95'])}</td><td>{_ms(w['p99'])}</td><td>{_ms(w['max'])}</td>"
                    f"<td>{_ms(c['p50'])}</td><td>{_bytes(m['p50'])}</td><td>{_bytes(m['p99'])}</td></tr>")
    table = ("<table><tr><th class=l>node</th><th class=l>type</th><th class=l>impl</th><th>runs</th><th>errors</th>"
             "<th>wall p50</th><th>wall p95</th><th>wall p99</th><th>wall max</th><th>CPU p50</th>"
             "<th>peak mem p50</th><th>peak mem p99</th></tr>" + "".join(rows) + "</table>")
    slowest = max(runs, key=lambda r: r["total_wall_us"])
    return (cards + "<h2>Per node over runs</h2><div class=\"charts\">" + time_bars + mem_bars + "</div>" + table
            + f"<h2>Timeline of the slowest run (run {slowest['run_id']}, {_ms(slowest['total_wall_us'])})</h2>"
            + _timeline(slowest, colors) + _legend(colors))


# ------------------------------------------------------------------ parts
def _ran(run: Dict[str, Any]) -> Dict[str, Dict[str, Any]]:
    ran = {nid: n for nid, n in run["nodes"].items() if n["status"] != "not_run"}
    return dict(sorted(ran.items(), key=lambda kv: kv[1]["order"]))


def _cards(items: Sequence[Any]) -> str:
    return "<div class=\"cards\">" + "".join(
        f"<div class=\"card\"><b class=\"{_e(cls)}\">{_e(value)}</b><span>{_e(label)}</span></div>"
        for value, label, cls in items) + "</div>"


def _timeline(run: Dict[str, Any], colors: Dict[str, str]) -> str:
    calls = run["calls"]
    lanes = max(run["lanes"], 1)
    total_us = max(run["total_wall_us"], max((c["end_us"] for c in calls), default=0.0), 1e-3)
    left, width, row_h, top = 70, 1180, 26, 8
    height = top + lanes * row_h + 34
    scale = width / total_us
    out = [f"<svg width=\"{left + width + 20}\" height=\"{height}\" role=\"img\" aria-label=\"timeline\">"]
    for tick_us in _ticks(total_us):
        x = left + tick_us * scale
        out.append(f"<line class=grid x1={x:.1f} y1={top} x2={x:.1f} y2={top + lanes * row_h}></line>"
                   f"<text x={x:.1f} y={top + lanes * row_h + 16} text-anchor=middle class=muted>"
                   f"{_fmt_ms(tick_us / 1000) if tick_us else '0'}</text>")
    for lane in range(lanes):
        y = top + lane * row_h
        out.append(f"<text x={left - 8} y={y + row_h / 2 + 4:.1f} text-anchor=end class=muted>lane {lane + 1}</text>")
    for c in calls:
        x = left + c["start_us"] * scale
        w = max(c["wall_us"] * scale, 1.0)
        y = top + c["lane"] * row_h + 3
        fill = colors.get(c["node_id"], "#999")
        stroke = f" stroke=\"{_FAILED}\" stroke-width=2" if c["status"] != "ok" else ""
        label = c["node_id"] if c["attempt"] == 1 else f"{c['node_id']} #{c['attempt']}"
        tip = (f"{c['node_id']} ({c['node_type']}, {c['implementation']}) attempt {c['attempt']}: {c['status']}\n"
               f"start {_ms(c['start_us'])}, wall {_ms(c['wall_us'])}, CPU {_ms_or_dash(c['cpu_us'])}\n"
               f"in {_size(c['input_samples'], c['input_bytes'])}, out {_size(c['output_samples'], c['output_bytes'])}"
               f"\npeak memory {_bytes(c['peak_memory_bytes'])}" + (f"\n{c['error']}" if c["error"] else "")
               + "".join(f"\n{k}: {v}" for k, v in (c.get("extra") or {}).items()))
        out.append(f"<g><title>{_e(tip)}</title><rect x={x:.1f} y={y} width={w:.1f} height={row_h - 6} rx=2 "
                   f"fill=\"{fill}\"{stroke}></rect>")
        if w > 7 * len(label) + 6:
            out.append(f"<text class=lbl x={x + 4:.1f} y={y + row_h / 2 + 1:.1f}>{_e(label)}</text>")
        out.append("</g>")
    out.append(f"<line class=axis x1={left} y1={top + lanes * row_h} x2={left + width} y2={top + lanes * row_h}>"
               "</line></svg>")
    return "".join(out)


def _legend(colors: Dict[str, str]) -> str:
    return "<div class=\"legend\">" + "".join(
        f"<span>{_swatch(color)}{_e(nid)}</span>" for nid, color in colors.items()) + (
        f"<span><i style=\"background:#fff;border:2px solid {_FAILED}\"></i>failed attempt</span></div>")


def _hbars(rows: Sequence[Any], colors: Dict[str, str], title: str, fmt: Any) -> str:
    label_w, width, row_h = 150, 360, 22
    vmax = max([max(v for v in r[1:] if v is not None) for r in rows] + [1e-9])
    height = 28 + len(rows) * row_h + 8
    out = [f"<svg width=\"{label_w + width + 90}\" height=\"{height}\" role=\"img\" aria-label=\"{_e(title)}\">"
           f"<text x=0 y=16 style=\"font-weight:600\">{_e(title)}</text>"]
    for i, (nid, value, p95, p99) in enumerate(rows):
        y = 28 + i * row_h
        w = value / vmax * width
        out.append(f"<text x={label_w - 6} y={y + 14} text-anchor=end>{_e(_clip(nid, 20))}</text>"
                   f"<rect x={label_w} y={y + 3} width={max(w, 0.5):.1f} height={row_h - 8} "
                   f"fill=\"{colors.get(nid, '#999')}\"></rect>")
        end = w
        if p95 is not None:
            x95 = label_w + p95 / vmax * width
            out.append(f"<line x1={x95:.1f} y1={y + 1} x2={x95:.1f} y2={y + row_h - 3} stroke=#222 stroke-width=2>"
                       "</line>")
            end = max(end, p95 / vmax * width)
        if p99 is not None:
            x99 = label_w + p99 / vmax * width
            cy = y + row_h / 2 - 1
            out.append(f"<path d=\"M{x99:.1f} {cy - 5:.1f}L{x99 + 4:.1f} {cy:.1f}L{x99:.1f} {cy + 5:.1f}"
                       f"L{x99 - 4:.1f} {cy:.1f}Z\" fill=#222></path>")
            end = max(end, p99 / vmax * width)
        text = fmt(value) if p95 is None else f"p50 {fmt(value)}"
        out.append(f"<text x={label_w + end + 8:.1f} y={y + 14} class=muted>{_e(text)}</text>")
    out.append(f"<line class=axis x1={label_w} y1=26 x2={label_w} y2={height - 6}></line></svg>")
    return "".join(out)


#: The marker of a node that ran inside a fused native segment (a call with ``extra.fused``).
_FUSED = "<span class=fused title=\"ran inside a fused native segment\">fused</span>"


def _fused_nodes(runs: Sequence[Dict[str, Any]]) -> Set[str]:
    """Ids of the nodes with a call that the engine reported as fused (``after_node(..., fused=True)``)."""
    return {c["node_id"] for r in runs for c in r["calls"] if (c.get("extra") or {}).get("fused")}


def _node_table(run: Dict[str, Any], fused: Set[str]) -> str:
    rows = []
    for nid, n in sorted(run["nodes"].items(), key=lambda kv: (kv[1]["order"] is None, kv[1]["order"] or 0)):
        rows.append(
            f"<tr><td>{'' if n['order'] is None else n['order'] + 1}</td>"
            f"<td class=l>{_e(nid)}{_FUSED if nid in fused else ''}</td>"
            f"<td class=l>{_e(n['node_type'])}</td><td class=l>{_e(n['implementation'])}</td>"
            f"<td class=\"l {_e(n['status'])}\">{_e(n['status'])}</td><td>{n['calls']}</td><td>{n['attempts']}</td>"
            f"<td>{'' if n['start_us'] is None else _ms(n['start_us'])}</td><td>{_ms(n['wall_us'])}</td>"
            f"<td>{_ms_or_dash(n['cpu_us'])}</td><td>{_size(n['input_samples'], n['input_bytes'])}</td>"
            f"<td>{_size(n['output_samples'], n['output_bytes'])}</td><td>{_bytes(n['peak_memory_bytes'])}</td>"
            f"<td>{_bytes(n['native_peak_bytes'])}</td></tr>")
    return ("<table><tr><th>#</th><th class=l>node</th><th class=l>type</th><th class=l>impl</th>"
            "<th class=l>status</th><th>calls</th><th>tries</th><th>start</th><th>wall</th><th>CPU</th>"
            "<th>input (samples / bytes)</th><th>output</th><th>peak memory</th><th>of which native</th></tr>"
            + "".join(rows) + "</table>")


# ------------------------------------------------------------- formatting
def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _swatch(color: str) -> str:
    return f"<i style=\"background:{color}\"></i>"


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _ticks(total_us: float) -> List[float]:
    raw = total_us / 8
    step = 1.0
    while step * 10 <= raw:
        step *= 10
    for m in (1, 2, 5, 10):
        if step * m >= raw:
            step *= m
            break
    return [i * step for i in range(int(total_us / step) + 1)]


def _fmt_ms(ms: float) -> str:
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 1:
        return f"{ms:.3g} ms"
    return f"{ms * 1000:.3g} µs"


def _ms(us: float) -> str:
    return _fmt_ms(us / 1000)


def _ms_or_dash(us: Optional[float]) -> str:
    return "–" if us is None else _ms(us)


def _fmt_mb(mb: float) -> str:
    return _bytes(mb * 1e6)


def _bytes(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def _size(samples: Optional[int], nbytes: Optional[int]) -> str:
    if nbytes is None:
        return "–"
    if samples is None:
        return _bytes(nbytes)
    return f"{_count(samples)} / {_bytes(nbytes)}"


def _count(n: int) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.3g}{unit}"
    return str(n)
