#!/usr/bin/env python3
"""Splits each collection of a floor process into marking and the rest, from the log CODEXLB_BENCH_GC_DETAIL=1 keeps.

Usage: CODEXLB_BENCH_GC_DETAIL=1 dotnet run -c Release --project bench/Benchmarks -- floor --only c=64 --no-wait
       python3 bench/scripts/gc_phases.py /tmp/gc-detail-bridge.log

Per collection: generation, pause (suspend to restart) and its parts (stopping the threads; GCStart to the end of
marking, the last GCMarkWithType; marking's end to GCEnd: planning, relocating, compacting; GCEnd to the threads'
restart), the bytes each root kind promoted, the gen0 budget the runtime chose (FinalYoungestDesired) and the heap
sizes after it. The process's GC threads share the cores with every other process of the floor, so any part can
stretch while a GC thread waits for a core.
"""
import sys
from statistics import median

ROOTS = {'0': 'stack', '1': 'finalize-queue', '2': 'handles', '3': 'older-gen', '4': 'sized-ref', '5': 'overflow',
         '6': 'dependent-handles', '7': 'new-finalizable', '8': 'steal'}
MB = 2 ** 20


def collections(path):
    current = None
    for line in open(path):
        if not line.startswith('E '):
            continue
        _, ticks, _thread, name, *rest = line.rstrip('\n').split(' ', 4)
        ticks = int(ticks)
        payload = dict(kv.split('=', 1) for kv in (rest[0] if rest else '').split(',') if '=' in kv)
        if name == 'GCSuspendEEBegin_V1':
            current = {'suspend': ticks, 'roots': {}, 'mark_end': None}
        elif current is None:
            continue
        elif name == 'GCSuspendEEEnd_V1':
            current['suspended'] = ticks
        elif name == 'GCEnd_V1':
            current['end'] = ticks
        elif name == 'GCStart_V2':
            current.update(start=ticks, gen=payload.get('Depth'))
        elif name == 'GCMarkWithType' and 'start' in current:
            kind = ROOTS.get(payload.get('Type'), payload.get('Type'))
            current['roots'][kind] = current['roots'].get(kind, 0) + int(payload.get('Bytes', 0))
            current['mark_end'] = ticks
        elif name == 'GCGlobalHeapHistory_V4':
            current['budget'] = int(payload.get('FinalYoungestDesired', 0))
        elif name == 'GCHeapStats_V2':
            current['heap'] = payload
        elif name == 'GCRestartEEEnd_V1':
            current['restart'] = ticks
            if 'start' in current and current['mark_end'] and 'end' in current and 'suspended' in current:
                yield current
            current = None


def main(path):
    rows = list(collections(path))
    print('gen | pause ms | stopping ms | marking ended ms | then to GCEnd ms | GCEnd to restart ms | promoted by root kind (KB) '
          '| gen0 budget MB | gen1/gen2/LOH/POH MB after')
    for c in rows:
        pause = (c['restart'] - c['suspend']) / 1e4
        marked = (c['mark_end'] - c['start']) / 1e4
        parts = ' | '.join(f'{v:.2f}' for v in after_marking(c))
        roots = ', '.join(f'{k} {v // 1024:,}' for k, v in sorted(c['roots'].items(), key=lambda kv: -kv[1]) if v >= 1024)
        h = c.get('heap', {})
        sizes = '/'.join(str(int(h.get(f'GenerationSize{g}', 0)) // MB) for g in (1, 2, 3, 4))
        print(f"{c['gen']} | {pause:.1f} | {(c['suspended'] - c['suspend']) / 1e4:.2f} | {marked:.1f} | {parts} | {roots} | {c.get('budget', 0) // MB} | {sizes}")
    gen0 = [c for c in rows if c['gen'] == '0']
    if gen0:
        pauses = [(c['restart'] - c['suspend']) / 1e4 for c in gen0]
        marks = [(c['mark_end'] - c['start']) / 1e4 for c in gen0]
        older = [c['roots'].get('older-gen', 0) / MB for c in gen0]
        stack = [c['roots'].get('stack', 0) / MB for c in gen0]
        rest = [after_marking(c) for c in gen0]
        print(f'gen0: {len(gen0)} collections; pause p50 {median(pauses):.1f} ms, marking ended at p50 {median(marks):.1f} ms, '
              f'then to GCEnd p50 {median(r[0] for r in rest):.1f} ms, GCEnd to restart p50 {median(r[1] for r in rest):.2f} ms '
              f'(max {max(r[1] for r in rest):.1f}); promoted p50 {median(older):.2f} MB from older generations, '
              f'{median(stack):.2f} MB from stacks')


def after_marking(c):
    """Marking's end to GCEnd, and GCEnd to the restart of the threads, in ms."""
    return (c['end'] - c['mark_end']) / 1e4, (c['restart'] - c['end']) / 1e4


if __name__ == '__main__':
    main(sys.argv[1])
