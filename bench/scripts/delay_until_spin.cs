// What one tick of an Orleans silo's periodic AsyncTimer costs when the runtime's timer fires early. Orleans 10.4.2 waits for
// each tick with TimeProviderExtensions.DelayUntilAsync: `while (due - now > 0) await Task.Delay(due - now)`. Task.Delay
// counts whole milliseconds of a coarse clock and may complete up to ~1 ms before `due` by the precise one; the remainder
// is then under a millisecond, Task.Delay of it completes at once, and the loop spins until `due` on a pool thread.
// This is that loop, alone, timed: how many Task.Delay calls each one-second tick made and how long its last part spun.
//
// Usage: dotnet run bench/scripts/delay_until_spin.cs [-- TICKS]   (default 8 one-second ticks)
#:property PublishAot=false
using System.Diagnostics;

var ticks = args.Length > 0 ? int.Parse(args[0]) : 8;
var time = TimeProvider.System;
for (var tick = 0; tick < ticks; tick++)
{
    var due = time.GetUtcNow() + TimeSpan.FromSeconds(1);
    var calls = 0;
    long spinStart = 0;
    while (true)
    {
        var left = due - time.GetUtcNow();
        if (left <= TimeSpan.Zero) break;
        if (spinStart == 0 && left < TimeSpan.FromMilliseconds(1)) spinStart = Stopwatch.GetTimestamp();
        calls++;
        await Task.Delay(left, time);
    }

    var spun = spinStart == 0 ? 0 : Stopwatch.GetElapsedTime(spinStart).TotalMilliseconds;
    Console.WriteLine($"tick {tick + 1}: {calls,6} Task.Delay calls, spun {spun:F3} ms before the due time");
}
