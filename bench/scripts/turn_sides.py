#!/usr/bin/env python3
"""A proxied turn's two sides at c=1, from the kernel's view of one proxy process (the bridge or YARP): the request side (the client's request
read -> the upstream frame sent) and the response side (the provider's first bytes read -> the first send to the client),
each with the hand-off before it (the socket thread's epoll_wait returning -> a worker's read) and the futex wakes and
scheduler wake-ups inside it.

Usage (the pids are in the floor's log line "floor: simulator pid …, bridge pid N, YARP pid M"):
  dotnet run -c Release --project bench/Benchmarks -- floor --only "c=1, 20" --no-wait   # during its rounds:
  perf record -o turns.data -e sched:sched_switch,sched:sched_wakeup,syscalls:sys_enter_recvfrom,syscalls:sys_exit_recvfrom,\
syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_epoll_wait,syscalls:sys_exit_epoll_wait,\
syscalls:sys_enter_futex,syscalls:sys_exit_futex -p PID -- sleep 15
  perf script -i turns.data > turns.txt && python3 bench/scripts/turn_sides.py turns.txt

A side starts with a read of bytes on a socket that was quiet for 15 ms or more (a c=1 turn with 20 ms of upstream work
leaves both of its sockets quiet that long) and ends at the next send on another socket. A turn is a pair of sides: a
request side (read on the client's socket C, send on the upstream socket U) and, 15-60 ms after its send, a response side
(read on U, send on C). Sides that pair with nothing (keepalives, scrapes) are left out.
"""
import bisect
import re
import statistics
import sys

HEADER = re.compile(r'^\s*(\S.*?)\s+(\d+)\s+(?:\[(\d+)\]\s+)?([\d.]+):\s+(?:(\d+)\s+)?([\w:-]+):\s*(.*)$')
QUIET_US = 15_000
FUTEX_WAKE = 1


def events(path):
    rows = []
    for line in open(path):
        m = HEADER.match(line.rstrip('\n'))
        if m:
            _comm, tid, _cpu, ts, _period, name, args = m.groups()
            rows.append((float(ts) * 1e6, int(tid), name, args))
    rows.sort()
    return rows


def sides(rows):
    pending, reads, sends, polls = {}, [], [], []
    for ts, tid, name, args in rows:
        if name.startswith('syscalls:sys_enter_'):
            fd = re.search(r'fd: (0x[0-9a-f]+)', args)
            pending[tid] = (int(fd.group(1), 16) if fd else None, ts)
            if name.endswith(('sendto', 'sendmsg')):
                sends.append((ts, pending[tid][0]))
        elif name == 'syscalls:sys_exit_epoll_wait':
            polls.append(ts)
        elif name == 'syscalls:sys_exit_recvfrom':
            entered = pending.pop(tid, None)
            n = int(args.strip(), 16)
            if entered and 0 < n < 1 << 63:
                reads.append((ts, entered[0], entered[1], n))
    send_times = [s[0] for s in sends]  # rows come sorted by time, so sends do too
    last, found = {}, []
    for ts, fd, entered, n in reads:
        quiet_since, last[fd] = last.get(fd), ts
        if quiet_since is None or ts - quiet_since < QUIET_US:
            continue
        send = next((sends[j] for j in range(bisect.bisect_right(send_times, ts), len(sends)) if sends[j][1] != fd), None)
        if send and send[0] - ts < QUIET_US:
            i = bisect.bisect_right(polls, entered) - 1
            found.append(dict(read=ts, sent=send[0], fd=fd, to=send[1], poll=polls[i] if i >= 0 else None, entered=entered))
    request, response, answered = [], [], set()
    for i, s in enumerate(found):
        if i in answered:
            continue
        j = next((j for j in range(i + 1, len(found)) if found[j]['fd'] == s['to'] and found[j]['to'] == s['fd']
                  and QUIET_US <= found[j]['read'] - s['sent'] <= 4 * QUIET_US), None)
        if j is not None:
            answered.add(j)
            request.append(s)
            response.append(found[j])
    return {'request': request, 'response': response}


def quantiles(values):
    values = sorted(values)
    return f'p50 {statistics.median(values):6.0f}, p90 {values[int(len(values) * 0.9)]:6.0f}' if values else '-'


def main(path):
    rows = events(path)
    futex, entered = [], {}
    for ts, tid, name, args in rows:
        if name == 'syscalls:sys_enter_futex':
            op = re.search(r'op: (0x[0-9a-f]+)', args)
            entered[tid] = (ts, int(op.group(1), 16) & 0x7f if op else -1)
        elif name == 'syscalls:sys_exit_futex' and tid in entered:
            start, op = entered.pop(tid)
            if op == FUTEX_WAKE:
                futex.append((start, ts))
    wakeups = [ts for ts, _tid, name, _ in rows if name == 'sched:sched_wakeup']
    starts = [f[0] for f in futex]
    print('side | turns | hand-off: epoll_wait returns -> read (µs) | read -> send (µs) | futex wakes, µs in them, wake-ups (p50, from epoll_wait)')
    for side, found in sides(rows).items():
        counts, spent, woken = [], [], []
        for s in found:
            begin = s['poll'] if s['poll'] and s['entered'] - s['poll'] < 5_000 else s['entered']
            inside = futex[bisect.bisect_left(starts, begin):bisect.bisect_right(starts, s['sent'])]
            counts.append(len(inside))
            spent.append(sum(b - a for a, b in inside))
            woken.append(bisect.bisect_right(wakeups, s['sent']) - bisect.bisect_left(wakeups, begin))
        handoff = [s['entered'] - s['poll'] for s in found if s['poll'] and s['entered'] - s['poll'] < 5_000]
        median = lambda v: statistics.median(v) if v else '-'
        print(f"{side} | {len(found)} | {quantiles(handoff)} | {quantiles([s['sent'] - s['read'] for s in found])} | "
              f"{median(counts)}, {median(spent)}, {median(woken)}")


if __name__ == '__main__':
    main(sys.argv[1])
