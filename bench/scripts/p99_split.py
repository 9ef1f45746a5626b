#!/usr/bin/env python3
"""Splits the c=64 added-p99 ratio (bridge / YARP) of floor logs into what the bridge's p50 decides and what its tail adds.

Usage: python3 bench/scripts/p99_split.py LOG...   (logs of `floor` or `floor --only c=64`)

Per log and bridge path: the added-p99 ratio as judged; the same ratio had the bridge's latencies YARP's p99/p50 (its p50
times YARP's p99/p50, less direct's p99: the part its p50, the closed loop's throughput, decides alone); both p99/p50
shapes; the added-p50 and turns/s ratios. Then the medians over all logs.
"""
import re
import sys
from statistics import median

SETTING = 'c=64 0 ms'  # as read: thousands separators (and so this comma) are dropped
PATHS = ('bridge HTTP/SSE', 'bridge websocket')


def read(path):
    latency, rate = {}, {}
    for line in open(path, errors='ignore'):
        cells = [c.strip().replace(',', '') for c in line.strip().strip('|').split('|')]
        if not line.startswith('|') or cells[0] != SETTING:
            continue
        name = cells[1]
        if len(cells) == 12 and cells[2].isdigit():  # the latency table: turns, err, first p50/p99, last p50/p99, ...
            latency[name] = dict(p50=float(cells[6]), p99=float(cells[7]))
        elif name in latency and name not in rate and re.fullmatch(r'[\d.]+', cells[2]):  # the cost table: turns/s first
            rate[name] = float(cells[2])
    return latency, rate


def main(paths):
    rows = []
    for path in paths:
        latency, rate = read(path)
        if not all(k in latency for k in ('direct', 'YARP') + PATHS):
            continue
        direct, yarp = latency['direct'], latency['YARP']
        yarp_added, shape = yarp['p99'] - direct['p99'], yarp['p99'] / yarp['p50']
        for name in PATHS:
            b = latency[name]
            rows.append(dict(log=path.split('/')[-1], path=name.split()[1],
                             judged=(b['p99'] - direct['p99']) / yarp_added,
                             at_yarp_tail=(b['p50'] * shape - direct['p99']) / yarp_added,
                             shape=b['p99'] / b['p50'], yarp_shape=shape,
                             p50=(b['p50'] - direct['p50']) / (yarp['p50'] - direct['p50']),
                             rate=rate.get(name, 0) / rate.get('YARP', float('nan'))))
    print('log | path | added p99 ratio | at YARP\'s p99/p50 | bridge p99/p50 | YARP p99/p50 | added p50 ratio | turns/s ratio')
    for r in rows:
        print(f"{r['log']} | {r['path']} | {r['judged']:.2f} | {r['at_yarp_tail']:.2f} | {r['shape']:.2f} | {r['yarp_shape']:.2f} | "
              f"{r['p50']:.2f} | {r['rate']:.2f}")
    if rows:
        m = {k: median(r[k] for r in rows) for k in ('judged', 'at_yarp_tail', 'shape', 'yarp_shape', 'p50', 'rate')}
        print(f"medians over {len(rows)} path readings: added p99 ratio {m['judged']:.2f}, at YARP's p99/p50 {m['at_yarp_tail']:.2f}, "
              f"p99/p50 {m['shape']:.2f} (YARP {m['yarp_shape']:.2f}), added p50 ratio {m['p50']:.2f}, turns/s ratio {m['rate']:.2f}")


if __name__ == '__main__':
    main(sys.argv[1:])
