#!/usr/bin/env python3
"""The timeline of an autoscaling run (scripts/autoscale-demo.sh), as a table and a chart.

Reads the load that was offered (PHASES: one line "<unix time> <requests/s>" per change) and the
autoscaler's log (LOG: `docker service logs --timestamps --raw`), and keeps the lines about
SERVICE. Prints, in Markdown, what each load step led to and one row per decision (time, offered,
measured, replicas, decision); writes the chart of requests/s and replicas over time to OUT_SVG.
Standard library only.

Usage: autoscale-chart.py SERVICE PHASES LOG OUT_SVG
"""
import datetime
import re
import sys

LINE = re.compile(r"^(?P<time>\S+) (?P<service>\S+): (?P<text>.*)$")
READING = re.compile(r"^(?P<rate>[\d.]+) req/s on (?P<n>\d+) replicas? \([^)]*target (?P<target>[\d.]+)\): (?P<decision>.*)$")
NO_DATA = re.compile(r"^no change \((?P<n>\d+) replicas?\): (?P<why>.*)$")
SCALED = re.compile(r"scale (?:up|down) \d+ -> (?P<to>\d+)(?:[,:]|$)")
HELD = re.compile(r"^keep (?P<n>\d+), wants (?P<wanted>\d+): .*\((?P<wait>\S+) to go\)$")


def unix_time(stamp):
    # Docker writes nanoseconds; Python reads at most microseconds.
    stamp = re.sub(r"(\.\d{6})\d*", r"\1", stamp).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).timestamp()


def read_phases(phases_path):
    return [tuple(map(float, line.split())) for line in open(phases_path) if line.strip()]


def read_rows(service, phases, log_path):
    """The decisions about SERVICE, and its target requests/s per replica."""
    start = phases[0][0]
    offered = lambda t: [rps for at, rps in phases if at <= t][-1]
    rows, target = [], None
    for line in open(log_path):
        match = LINE.match(line.strip())
        if not match or match["service"] != service:
            continue
        t = unix_time(match["time"])
        if t < start:
            continue
        text = match["text"]
        if reading := READING.match(text):
            replicas, decision, target = int(reading["n"]), reading["decision"], float(reading["target"])
            if scaled := SCALED.search(decision):
                replicas = int(scaled["to"])
            elif held := HELD.match(decision):
                decision = f"keep {held['n']} (wants {held['wanted']}; {held['wait']} to go)"
            rows.append((t - start, offered(t), float(reading["rate"]), replicas, decision))
        elif no_data := NO_DATA.match(text):
            rows.append((t - start, offered(t), None, int(no_data["n"]), "no change: " + no_data["why"]))
    return rows, target


def steps_summary(phases, rows):
    """One line per load step: the replicas before and at its end, and the first change."""
    start = phases[0][0]
    bounds = [at - start for at, _ in phases] + [float("inf")]
    lines = []
    for (at, rps), begin, end in zip(phases, bounds, bounds[1:]):
        before = [n for t, *_, n, _ in rows if t < begin] or [rows[0][3]]
        during = [(t, n, d) for t, _, _, n, d in rows if begin <= t < end]
        if not during:
            continue
        changes = [(t, d) for t, n, d in during if d.startswith("scale")]
        first = f"; first change {changes[0][0] - begin:.0f} s in: {changes[0][1]}" if changes else ""
        lines.append(f"- from {begin:.0f} s, {rps:.0f} req/s offered: {before[-1]} -> {during[-1][1]} replicas"
                     f" by {min(end, during[-1][0]):.0f} s{first}")
    return "\n".join(lines) + "\n"


def table(rows):
    lines = ["| time | offered req/s | measured req/s | replicas | decision |", "|---:|---:|---:|---:|---|"]
    for t, offered, rate, replicas, decision in rows:
        measured = "" if rate is None else f"{rate:g}"
        lines.append(f"| {t:.0f} s | {offered:.0f} | {measured} | {replicas} | {decision} |")
    return "\n".join(lines) + "\n"


def chart(rows, target):
    """One panel: requests/s on the left axis (offered dashed, measured solid), replicas on the
    right axis as a step line. The right axis is the left one divided by the target, so the
    replicas line is also the capacity at the target: the measured rate runs under it. Plain SVG."""
    width, height, left, right, top, bottom = 720, 300, 56, 48, 28, 44
    end = max(t for t, *_ in rows) or 1
    top_replicas = max(n for *_, n, _ in rows) + 1
    top_rps = max(max(max(o, r or 0) for _, o, r, _, _ in rows) * 1.1, top_replicas * target)
    x = lambda t: left + (width - left - right) * t / end
    y_rps = lambda v: height - bottom - (height - top - bottom) * v / top_rps
    y_rep = lambda n: y_rps(n * target)

    def steps(points):
        out = []
        for i, (t, v) in enumerate(points):
            if i:
                out.append(f"{x(t):.1f},{points[i - 1][1]:.1f}")
            out.append(f"{x(t):.1f},{v:.1f}")
        return " ".join(out)

    offered = steps([(t, y_rps(o)) for t, o, *_ in rows])
    measured = " ".join(f"{x(t):.1f},{y_rps(r):.1f}" for t, _, r, _, _ in rows if r is not None)
    replicas = steps([(t, y_rep(n)) for t, _, _, n, _ in rows])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#888"/>',
        f'<line x1="{width - right}" y1="{top}" x2="{width - right}" y2="{height - bottom}" stroke="#888"/>',
    ]
    step = 50 if top_rps <= 300 else 100
    for v in range(0, int(top_rps) + 1, step):
        parts.append(f'<text x="{left - 4}" y="{y_rps(v) + 4:.1f}" text-anchor="end">{v}</text>')
        parts.append(f'<line x1="{left}" y1="{y_rps(v):.1f}" x2="{width - right}" y2="{y_rps(v):.1f}" stroke="#eee"/>')
    for n in range(0, int(top_rps / target) + 1):
        parts.append(f'<text x="{width - right + 4}" y="{y_rep(n) + 4:.1f}" fill="#1971c2">{n}</text>')
    for t in range(0, int(end) + 1, 60):
        parts.append(f'<text x="{x(t):.1f}" y="{height - bottom + 14}" text-anchor="middle">{t // 60} min</text>')
    parts += [
        f'<polyline points="{offered}" fill="none" stroke="#868e96" stroke-width="1.5" stroke-dasharray="5,4"/>',
        f'<polyline points="{measured}" fill="none" stroke="#d9480f" stroke-width="2"/>',
        f'<polyline points="{replicas}" fill="none" stroke="#1971c2" stroke-width="2.5"/>',
        f'<text x="{left}" y="{top - 10}" font-weight="bold">requests/s</text>',
        f'<text x="{width - right}" y="{top - 10}" text-anchor="end" font-weight="bold" fill="#1971c2">replicas</text>',
        f'<text x="{left + 10}" y="{height - 8}" fill="#868e96">- - offered (hey)</text>',
        f'<text x="{left + 130}" y="{height - 8}" fill="#d9480f">measured by Prometheus</text>',
        f'<text x="{left + 300}" y="{height - 8}" fill="#1971c2">producer replicas (× {target:g} req/s, the target)</text>',
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[-1])
    service, phases_path, log_path, svg_path = sys.argv[1:]
    phases = read_phases(phases_path)
    rows, target = read_rows(service, phases, log_path)
    if not rows or target is None:
        sys.exit(f"no decisions about {service} in {log_path}")
    open(svg_path, "w").write(chart(rows, target))
    print(steps_summary(phases, rows) + "\n" + table(rows), end="")


if __name__ == "__main__":
    main()
