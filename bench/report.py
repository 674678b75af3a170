#!/usr/bin/env python3
"""Reads xgate_bench's Google Benchmark JSON (and the peak-memory lines of `--rss`), prints
one table per workload with each contender's time, MB/s, size and ratio to xgate, checks
the speed and memory targets set for the codec, writes the same as Markdown, and draws bar charts with gnuplot.

  report.py RESULTS.json [--rss RSS.jsonl] [--out DIR]
  report.py RESULTS.json --workloads      the workloads present, largest xgate document first

Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

CONTENDERS = ["xgate", "boost_xml", "boost_binary", "cereal_xml", "pugixml_parse", "memcpy"]
PHASES = ["Encode", "Decode"]
COLORS = {"xgate": "#7b2fbf", "boost_xml": "#2ca25f", "boost_binary": "#74c0e8", "cereal_xml": "#f0a020",
          "pugixml_parse": "#e8d44d", "memcpy": "#808080"}
MB = 1e6  # decimal megabytes throughout

# The codec's targets: xgate at least this many times faster than the contender.
SPEEDUP_TARGETS = [("Encode", "boost_xml", 8.0), ("Encode", "cereal_xml", 8.0),
                   ("Decode", "boost_xml", 4.0), ("Decode", "cereal_xml", 3.0)]
PUGIXML_DECODE_LIMIT = 1.5  # xgate decode time at most this many times pugixml_parse
RSS_LIMIT = 3.0             # peak memory decoding at most this many times the document


def load_results(path):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    results = {}  # (phase, workload, contender) -> entry
    order = []
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        parts = b["name"].split("/")
        if len(parts) < 3 or not parts[0].startswith("BM_"):
            continue
        phase, workload, contender = parts[0][3:], parts[1], parts[2]
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        e = {
            "error": b.get("error_message") if b.get("error_occurred") else None,
            "ms": b.get("cpu_time", 0.0) * scale,
            "real_ms": b.get("real_time", 0.0) * scale,
            "bytes": int(b.get("bytes", 0)),
            "bps": b.get("bytes_per_second", 0.0),
            "label": b.get("label", ""),
            "iterations": b.get("iterations", 0),
        }
        results[(phase, workload, contender)] = e
        if workload not in order:
            order.append(workload)
    return data.get("context", {}), results, order


def load_rss(path):
    rows = []
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    rows.append(json.loads(line))
    return rows


def fmt(x, digits=1):
    if x is None:
        return "-"
    if x >= 1000:
        return f"{x:,.0f}"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}" if digits else f"{x:.0f}"
    return f"{x:.2f}"


def ratio_text(r):
    return "-" if r is None else (f"{r:.2f}x" if r < 10 else f"{r:.1f}x")


def short(msg, n=110):
    msg = " ".join(msg.split())
    return msg if len(msg) <= n else msg[: n - 3] + "..."


def workload_tables(results, order):
    """Rows per workload: contender -> phase -> (entry)."""
    tables = []
    for w in order:
        rows = []
        for c in CONTENDERS:
            cells = {p: results.get((p, w, c)) for p in PHASES}
            if any(cells.values()):
                rows.append((c, cells))
        tables.append((w, rows))
    return tables


def ratio_to_xgate(results, phase, workload, contender):
    x = results.get((phase, workload, "xgate"))
    e = results.get((phase, workload, contender))
    if not x or not e or x["error"] or e["error"] or x["ms"] <= 0:
        return None
    return e["ms"] / x["ms"]


def render_text(context, results, order, rss):
    out = []
    out.append("xgate_bench: CPU time per operation (ms), throughput of the contender's own output (MB/s,")
    out.append("1 MB = 10^6 bytes), its output size, and time / xgate's time (above 1: slower than xgate).")
    if context:
        out.append(f"machine: {context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
                   f"load {', '.join(f'{x:.2f}' for x in context.get('load_avg', []))}; "
                   f"{context.get('xgate_bench.sizes', '')}")
    notes = []
    for w, rows in workload_tables(results, order):
        xe = results.get(("Encode", w, "xgate"))
        size = f"{xe['bytes'] / MB:.1f} MB" if xe and not xe["error"] else "n/a"
        out.append("")
        out.append(f"== {w} (xgate document {size}) ==")
        out.append(f"{'contender':<14} | {'encode ms':>10} {'MB/s':>8} {'size MB':>8} {'/xgate':>8} | "
                   f"{'decode ms':>10} {'MB/s':>8} {'/xgate':>8}")
        for c, cells in rows:
            line = f"{c:<14} |"
            for p in PHASES:
                e = cells[p]
                if e is None:
                    line += f" {'':>10} {'':>8} {'':>8} {'':>8} |" if p == "Encode" else f" {'':>10} {'':>8} {'':>8}"
                    continue
                if e["error"]:
                    notes.append((w, c, p, e["error"]))
                    tag = f"skipped[{len(notes)}]"
                    line += f" {tag:>10} {'':>8} {'':>8} {'':>8} |" if p == "Encode" else f" {tag:>10} {'':>8} {'':>8}"
                    continue
                r = ratio_text(ratio_to_xgate(results, p, w, c))
                if p == "Encode":
                    line += f" {fmt(e['ms']):>10} {fmt(e['bps'] / MB):>8} {e['bytes'] / MB:>8.2f} {r:>8} |"
                else:
                    line += f" {fmt(e['ms']):>10} {fmt(e['bps'] / MB):>8} {r:>8}"
            out.append(line)
        labels = sorted({(c, e["label"]) for c, cells in rows for e in cells.values()
                         if e and not e["error"] and e["label"] and c not in ("memcpy", "pugixml_parse")})
        for c, label in labels:
            out.append(f"  note: {c}: {label}")
    if notes:
        out.append("")
        out.append("skipped:")
        for i, (w, c, p, msg) in enumerate(notes, 1):
            out.append(f"  [{i}] {p.lower()} {w}/{c}: {short(msg, 200)}")
    out.append("")
    out.extend(render_targets_text(results, order, rss))
    if rss:
        out.append("")
        out.extend(render_rss_text(rss))
    return "\n".join(out)


def target_rows(results, order, rss):
    """(workload, what, measured text, target text, status) for every target."""
    rows = []
    for w in order:
        for phase, c, want in SPEEDUP_TARGETS:
            r = ratio_to_xgate(results, phase, w, c)
            e = results.get((phase, w, c))
            if r is None:
                why = "contender skipped" if e and e["error"] else "not measured"
                x = results.get((phase, w, "xgate"))
                if x and x["error"]:
                    why = "xgate failed"
                rows.append((w, f"{phase.lower()} vs {c}", why, f">= {want:g}x", "n/a"))
            else:
                got = f"xgate {r:.2f}x faster" if r >= 1 else f"xgate {1 / r:.2f}x slower"
                rows.append((w, f"{phase.lower()} vs {c}", got, f">= {want:g}x", "MET" if r >= want else "MISSED"))
        p = ratio_to_xgate(results, "Decode", w, "pugixml_parse")
        if p is not None:
            slower = 1.0 / p
            rows.append((w, "decode vs pugixml_parse", f"{slower:.2f}x pugixml's time", f"<= {PUGIXML_DECODE_LIMIT:g}x",
                         "MET" if slower <= PUGIXML_DECODE_LIMIT else "MISSED"))
        for m in rss:
            if m.get("workload") == w and m.get("contender") == "xgate" and m.get("phase") == "decode" and "error" not in m:
                k = m["peak_over_baseline_per_doc"]
                rows.append((w, "decode peak memory", f"{k:.2f}x document", f"<= {RSS_LIMIT:g}x",
                             "MET" if k <= RSS_LIMIT else "MISSED"))
    return rows


def render_targets_text(results, order, rss):
    rows = target_rows(results, order, rss)
    out = ["targets:"]
    for w, what, got, want, status in rows:
        out.append(f"  {w:<15} {what:<26} {got:>24}  target {want:<7} {status}")
    met = sum(1 for r in rows if r[4] == "MET")
    missed = sum(1 for r in rows if r[4] == "MISSED")
    out.append(f"  {met} met, {missed} missed, {len(rows) - met - missed} not applicable")
    return out


def render_rss_text(rss):
    out = ["peak memory (separate process per line; MB = 10^6 bytes; peak and retained are over the baseline,",
           "which holds the input: the objects when encoding, the document when decoding):",
           f"  {'workload':<15} {'contender':<14} {'phase':<7} {'doc MB':>8} {'peak MB':>9} {'peak/doc':>9} {'retained MB':>12}"]
    for m in rss:
        if "error" in m:
            out.append(f"  {m['workload']:<15} {m['contender']:<14} {m['phase']:<7} {short(m['error'], 80)}")
            continue
        out.append(f"  {m['workload']:<15} {m['contender']:<14} {m['phase']:<7} {m['doc_bytes'] / MB:>8.1f} "
                   f"{m['peak_over_baseline_kib'] * 1024 / MB:>9.1f} {m['peak_over_baseline_per_doc']:>8.2f}x "
                   f"{m['retained_kib'] * 1024 / MB:>12.1f}")
    if any(not m.get("peak_reset", True) for m in rss if "error" not in m):
        out.append("  (the kernel refused to reset the peak: peaks include the setup before the operation)")
    return out


def render_markdown(context, results, order, rss):
    out = ["# xgate_bench results", ""]
    if context:
        out.append(f"Machine: {context.get('num_cpus', '?')} CPUs at {context.get('mhz_per_cpu', '?')} MHz, "
                   f"load average {', '.join(f'{x:.2f}' for x in context.get('load_avg', []))}; "
                   f"{context.get('date', '')}; sizes: {context.get('xgate_bench.sizes', '')}.")
        out.append("")
    out.append("CPU time per operation; MB/s of the contender's own output (1 MB = 10^6 bytes); "
               "\"/xgate\" is the contender's time divided by xgate's (above 1: xgate is faster).")
    for w, rows in workload_tables(results, order):
        out.append("")
        out.append(f"### {w}")
        out.append("")
        out.append("| contender | encode ms | MB/s | size MB | /xgate | decode ms | MB/s | /xgate |")
        out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
        for c, cells in rows:
            line = f"| {c} |"
            for p in PHASES:
                e = cells[p]
                n = 4 if p == "Encode" else 3
                if e is None:
                    line += " |" * n
                elif e["error"]:
                    line += " skipped |" + " |" * (n - 1)
                else:
                    r = ratio_text(ratio_to_xgate(results, p, w, c))
                    if p == "Encode":
                        line += f" {fmt(e['ms'])} | {fmt(e['bps'] / MB)} | {e['bytes'] / MB:.2f} | {r} |"
                    else:
                        line += f" {fmt(e['ms'])} | {fmt(e['bps'] / MB)} | {r} |"
            out.append(line)
    out.append("")
    out.append("### Targets")
    out.append("")
    out.append("| workload | what | measured | target | status |")
    out.append("|---|---|---:|---|---|")
    for w, what, got, want, status in target_rows(results, order, rss):
        out.append(f"| {w} | {what} | {got} | {want} | {status} |")
    if rss:
        out.append("")
        out.append("### Peak memory")
        out.append("")
        out.append("| workload | contender | phase | doc MB | peak MB over baseline | peak / doc | retained MB |")
        out.append("|---|---|---|---:|---:|---:|---:|")
        for m in rss:
            if "error" in m:
                out.append(f"| {m['workload']} | {m['contender']} | {m['phase']} | {short(m['error'], 60)} | | | |")
            else:
                out.append(f"| {m['workload']} | {m['contender']} | {m['phase']} | {m['doc_bytes'] / MB:.1f} | "
                           f"{m['peak_over_baseline_kib'] * 1024 / MB:.1f} | {m['peak_over_baseline_per_doc']:.2f}x | "
                           f"{m['retained_kib'] * 1024 / MB:.1f} |")
    return "\n".join(out) + "\n"


def gnuplot_terminal(gnuplot):
    probe = subprocess.run([gnuplot, "-e", "set terminal pngcairo"], capture_output=True, text=True)
    if probe.returncode == 0 and not probe.stderr.strip():
        return "pngcairo size 1400,900 font 'Sans,10'", "png"
    return "svg size 1400,900", "svg"


def draw_charts(results, order, out_dir):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        return ["gnuplot not found: no charts drawn (Debian: apt-get install gnuplot-nox)"]
    terminal, ext = gnuplot_terminal(gnuplot)
    messages = []
    for kind in ("throughput", "ratio"):
        plots = []
        for phase in PHASES:
            contenders = [c for c in CONTENDERS if any((phase, w, c) in results for w in order)]
            if kind == "ratio":
                contenders = [c for c in contenders if c != "xgate"]
            data = os.path.join(out_dir, f"{kind}_{phase.lower()}.dat")
            with open(data, "w", encoding="utf-8") as f:
                for w in order:
                    vals = []
                    for c in contenders:
                        e = results.get((phase, w, c))
                        if kind == "throughput":
                            v = e["bps"] / MB if e and not e["error"] and e["bps"] > 0 else None
                        else:
                            v = ratio_to_xgate(results, phase, w, c)
                        vals.append("?" if v is None else f"{v:.6g}")
                    f.write(w + " " + " ".join(vals) + "\n")
            plots.append((phase, data, contenders))
        image = os.path.join(out_dir, f"{kind}.{ext}")
        script = [f"set terminal {terminal}", f"set output '{image}'", "set datafile missing '?'",
                  "set style data histograms", "set style histogram clustered gap 1", "set style fill solid 0.85 border -1",
                  "set boxwidth 0.9", "set logscale y", "set grid ytics mytics", "set key outside right top",
                  "set xtics nomirror", "set termoption noenhanced", "set multiplot layout 2,1"]
        for phase, data, contenders in plots:
            if kind == "throughput":
                script.append(f"set title '{phase}: throughput of each contender output (MB/s, log scale)'")
                script.append("set ylabel 'MB/s'")
                script.append("unset arrow")
            else:
                script.append(f"set title '{phase}: contender time / xgate time (log scale; above 1: xgate is faster)'")
                script.append("set ylabel 'time / xgate time'")
                script.append("set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead lc rgb 'black' lw 2")
            cols = ", ".join(f"'{data}' using {i + 2}:xtic(1) title '{c}' lc rgb '{COLORS[c]}'"
                             for i, c in enumerate(contenders))
            script.append(f"plot {cols}")
        script.append("unset multiplot")
        r = subprocess.run([gnuplot], input="\n".join(script) + "\n", capture_output=True, text=True)
        if r.returncode != 0:
            messages.append(f"gnuplot failed for {image}: {r.stderr.strip()}")
        else:
            messages.append(f"chart: {image}")
    return messages


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results")
    ap.add_argument("--rss", help="JSON lines written by xgate_bench --rss")
    ap.add_argument("--out", help="directory for results.md and the charts (default: next to RESULTS)")
    ap.add_argument("--workloads", action="store_true", help="print the workloads, largest xgate document first")
    ap.add_argument("--no-chart", action="store_true")
    args = ap.parse_args()

    context, results, order = load_results(args.results)
    if args.workloads:
        def size(w):
            e = results.get(("Encode", w, "xgate"))
            return e["bytes"] if e and not e["error"] else -1
        print(" ".join(sorted(order, key=size, reverse=True)))
        return 0
    if not results:
        print(f"{args.results}: no xgate_bench results", file=sys.stderr)
        return 1
    rss = load_rss(args.rss)
    out_dir = args.out or os.path.dirname(os.path.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    print(render_text(context, results, order, rss))
    md = os.path.join(out_dir, "results.md")
    with open(md, "w", encoding="utf-8") as f:
        f.write(render_markdown(context, results, order, rss))
    print(f"\ntables: {md}")
    if not args.no_chart:
        for m in draw_charts(results, order, out_dir):
            print(m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
