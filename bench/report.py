#!/usr/bin/env python3
"""Markdown summary of one bench/run.sh session: reads RESULTS_DIR, prints to stdout.

Standard library only. Every number printed comes from the files of that one directory.
"""

import json
import re
import statistics
import sys
from pathlib import Path

UNITS_US = {"us": 1.0, "ms": 1000.0, "s": 1_000_000.0}
# A throughput run is disturbed when other work took this much of a core, or the hypervisor
# stole this much, while it ran.
MAX_OTHERS = 0.10
MAX_STEAL = 0.05


def parse_wrk(text):
    """requests, req/s, p50 and p99 in µs, non-2xx count, socket errors from wrk's output."""
    def latency(pct):
        m = re.search(rf"^\s*{pct}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        return float(m.group(1)) * UNITS_US[m.group(2)] if m else None

    requests = int(re.search(r"^\s*(\d+) requests in", text, re.M).group(1))
    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    errors = re.search(r"Socket errors:(.*)$", text, re.M)
    return {
        "requests": requests,
        "rps": rps,
        "p50_us": latency(50),
        "p99_us": latency(99),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(1).strip() if errors else "",
    }


def read_tsv(path):
    lines = path.read_text().split("\n")
    head = lines[0].split()
    return [dict(zip(head, line.split())) for line in lines[1:] if line.strip()]


def cpu_delta(row):
    """(user, system) clock ticks the process used between the two readings of a row."""
    return (int(row["utime_after"]) - int(row["utime_before"]),
            int(row["stime_after"]) - int(row["stime_before"]))


def others_and_steal(row, proxy_ticks, other_ours_s, clk_tck, wall):
    """Busy CPU of the machine not spent by our processes (someone else's work, or kernel
    threads), and CPU stolen by the hypervisor, both as a fraction of one core over `wall`."""
    ours = proxy_ticks + int(row["upstream_after"]) - int(row["upstream_before"]) \
        + other_ours_s * clk_tck
    busy = int(row["busy_after"]) - int(row["busy_before"])
    steal = int(row["steal_after"]) - int(row["steal_before"])
    return max(0.0, busy - ours) / clk_tck / wall, steal / clk_tck / wall


def fmt_us(us):
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def main():
    out = Path(sys.argv[1])
    meta = dict(line.split(": ", 1) for line in (out / "meta.txt").read_text().splitlines())
    clk_tck = int(meta["clk_tck"])
    print(f"## sluice vs NGINX: {meta['date']}\n")
    for key in ("cpu", "kernel", "sluice", "nginx", "wrk", "python"):
        print(f"- {key}: {meta[key]}")
    print(f"- raw results: `bench/results/{out.name}/`\n")

    # Throughput.
    runs = {"sluice": [], "sluice-nometrics": [], "nginx": []}
    for row in read_tsv(out / "throughput.tsv"):
        w = parse_wrk((out / f"throughput-{row['proxy']}-{row['round']}.txt").read_text())
        user, system = cpu_delta(row)
        cpu_s = (user + system) / clk_tck
        w["round"] = row["round"]
        w["cpu_us_per_req"] = cpu_s * 1e6 / w["requests"]
        w["user_us_per_req"] = user / clk_tck * 1e6 / w["requests"]
        w["sys_us_per_req"] = system / clk_tck * 1e6 / w["requests"]
        wall = float(row["wall_s"])
        w["core_busy"] = cpu_s / wall
        w["others"], w["steal"] = others_and_steal(row, user + system, float(row["wrk_cpu_s"]),
                                                   clk_tck, wall)
        runs[row["proxy"]].append(w)
    print(f"### Throughput (wrk -t1 -c{meta['connections']} -d{meta['duration_s']}s, "
          f"interleaved, {meta['rounds']} rounds)\n")
    print("| proxy | round | req/s | p50 | p99 | CPU µs/req (user + sys) | proxy core busy | "
          "others' CPU | stolen | non-2xx | socket errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for proxy in runs:
        for w in runs[proxy]:
            print(f"| {proxy} | {w['round']} | {w['rps']:.0f} | {fmt_us(w['p50_us'])} | "
                  f"{fmt_us(w['p99_us'])} | {w['cpu_us_per_req']:.2f} ({w['user_us_per_req']:.1f} + "
                  f"{w['sys_us_per_req']:.1f}) | {w['core_busy']:.0%} | {w['others']:.0%} | {w['steal']:.0%} | "
                  f"{w['non2xx']} | {w['socket_errors'] or '-'} |")
    # The medians leave out disturbed runs (the machine is shared and a VM), by one rule for both
    # proxies, unless that would leave none; every run is in the table above.
    med, used = {}, {}
    for p in [p for p in runs if runs[p]]:
        clean = [w for w in runs[p] if w["others"] < MAX_OTHERS and w["steal"] < MAX_STEAL]
        used[p] = clean or runs[p]
        med[p] = {k: statistics.median(w[k] for w in used[p])
                  for k in ("rps", "p50_us", "p99_us", "cpu_us_per_req", "user_us_per_req",
                            "sys_us_per_req")}
    print(f"\nMedians over the undisturbed runs (others' CPU under {MAX_OTHERS:.0%} of a core and "
          f"stolen under {MAX_STEAL:.0%}): sluice rounds "
          f"{', '.join(w['round'] for w in used['sluice'])}; NGINX rounds "
          f"{', '.join(w['round'] for w in used['nginx'])}.")
    print("\n| median | req/s | p50 | p99 | CPU µs/req | user µs/req | sys µs/req |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for proxy in med:
        m = med[proxy]
        print(f"| {proxy} | {m['rps']:.0f} | {fmt_us(m['p50_us'])} | {fmt_us(m['p99_us'])} | "
              f"{m['cpu_us_per_req']:.2f} | {m['user_us_per_req']:.2f} | {m['sys_us_per_req']:.2f} |")
    s, n = med["sluice"], med["nginx"]
    ratio = lambda k: f"{s[k] / n[k]:.2f}"
    print(f"| **sluice / NGINX** | {ratio('rps')} | {ratio('p50_us')} | {ratio('p99_us')} | "
          f"{ratio('cpu_us_per_req')} | {ratio('user_us_per_req')} | {ratio('sys_us_per_req')} |")
    if "sluice-nometrics" in med:
        o = med["sluice-nometrics"]
        ratio_off = lambda k: f"{s[k] / o[k]:.2f}"
        print(f"| **sluice metrics on / off** | {ratio_off('rps')} | {ratio_off('p50_us')} | "
              f"{ratio_off('p99_us')} | {ratio_off('cpu_us_per_req')} | "
              f"{ratio_off('user_us_per_req')} | {ratio_off('sys_us_per_req')} |")
    print()

    # Flood accuracy: every attempt, in the order run; a repeat (attempt "1r") follows a run
    # that was disturbed.
    rate, seconds = re.match(r"(\d+) r/s for (\d+) s", meta["flood"]).groups()
    goal = int(rate) * int(seconds)
    print(f"### Flood accuracy ({meta['flood']} from one client, limit {rate}/second, no burst)\n")
    print(f"| proxy, limit | proxy core | attempt | admitted (goal {goal} ± {goal // 100}) | "
          "rejected | other | proxy core busy | others' CPU | stolen | "
          "client send lateness p99 / max |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    labels = {"sluice-token_bucket": "sluice, token_bucket burst 1",
              "sluice-sliding_window": "sluice, sliding_window",
              "nginx": "NGINX, limit_req rate=100r/s"}
    for c in read_tsv(out / "flood.tsv"):
        r = json.loads((out / f"flood-{c['name']}-{c['core']}-{c['attempt']}.json").read_text())
        busy = sum(cpu_delta(c)) / clk_tck / float(c["wall_s"])
        other = r["sent"] - r["admitted"] - r["rejected"]
        span = [int(c[k + "_after"]) - int(c[k + "_before"]) for k in ("span_utime", "span_stime")]
        others, steal = others_and_steal(c, sum(span), float(c["children_cpu_s"]), clk_tck,
                                         float(c["span_s"]))
        print(f"| {labels[c['name']]} | {c['core']} | {c['attempt']} | {r['admitted']} | "
              f"{r['rejected']} | {other} | {busy:.0%} | {others:.0%} | {steal:.0%} | "
              f"{r['send_late_p99_us']:.0f} µs / {r['send_late_max_us']:.0f} µs |")
    print()

    # Memory per key.
    print(f"### Memory per tracked key ({meta['keys']} distinct X-Client values)\n")
    print("| proxy | VmRSS before | VmRSS after | delta | bytes per key |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in read_tsv(out / "memory.tsv"):
        before, after, keys = int(row["rss_before_kb"]), int(row["rss_after_kb"]), int(row["keys"])
        delta = (after - before) * 1024
        w = parse_wrk((out / f"memory-{row['proxy']}.txt").read_text())
        print(f"| {row['proxy']} | {before} KiB | {after} KiB | {delta / 1024:.0f} KiB | "
              f"{delta / keys:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
