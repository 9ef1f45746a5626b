using System.Collections.Concurrent;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Timing;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// Turns starting and ending on each account, gathered on this silo and sent to the account grains as one
/// <see cref="AccountEvent.Turns"/> report per account <see cref="Period"/> after the first count since the last report
/// (none while no turn runs): an account's in-flight count and tokens lag by at most that, and a warm turn costs no
/// message of its own. Failures (rate limits, quotas, refused credentials) are not batched: they change where the next
/// turn goes.
/// </summary>
public sealed class AccountTurnReports : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(250);

    private readonly IGrainFactory _grains;
    private readonly ConcurrentDictionary<string, Pending> _pending = new(StringComparer.Ordinal);
    private readonly PendingFlush _flush;
    private int _flushing;

    public AccountTurnReports(IGrainFactory grains, TimeProvider? time = null)
    {
        _grains = grains;
        _flush = new PendingFlush(Flush, Period, time);
    }

    public void Started(string account)
    {
        Interlocked.Increment(ref For(account).Started);
        _flush.Arm();
    }

    public void Ended(string account, long inputTokens, long outputTokens, AccountUsage? usage)
    {
        var pending = For(account);
        Interlocked.Add(ref pending.InputTokens, inputTokens);
        Interlocked.Add(ref pending.OutputTokens, outputTokens);
        if (usage is not null) pending.Usage = usage;
        Interlocked.Increment(ref pending.Ended);
        _flush.Arm();
    }

    private Pending For(string account) => _pending.GetOrAdd(account, static _ => new Pending());

    private void Flush()
    {
        if (Interlocked.Exchange(ref _flushing, 1) == 1)
        {
            _flush.Arm(); // the last flush is still sending: these counts go with the next
            return;
        }
        try
        {
            foreach (var (account, pending) in _pending)
            {
                var report = pending.Take();
                if (report is null) continue;
                // One-way; a silo that is stopping may fail it, and the account's counts are advisory (health, selection).
                _ = _grains.GetGrain<IAccountGrain>(account).Report(report).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            }
        }
        finally
        {
            Volatile.Write(ref _flushing, 0);
        }
    }

    public void Dispose() => _flush.Dispose();

    private sealed class Pending
    {
        public int Started, Ended;
        public long InputTokens, OutputTokens;
        public AccountUsage? Usage;

        public AccountReport? Take()
        {
            var started = Interlocked.Exchange(ref Started, 0);
            var ended = Interlocked.Exchange(ref Ended, 0);
            var input = Interlocked.Exchange(ref InputTokens, 0);
            var output = Interlocked.Exchange(ref OutputTokens, 0);
            var usage = Interlocked.Exchange(ref Usage, null);
            if (started == 0 && ended == 0 && input == 0 && output == 0 && usage is null) return null;
            return new AccountReport
            {
                Event = AccountEvent.Turns, TurnsStarted = started, TurnsEnded = ended, InputTokens = input, OutputTokens = output, Usage = usage,
            };
        }
    }
}
