using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Limits;

/// <summary>
/// How many conversations each tenant may start per minute: a sliding window of six 10-second segments per tenant. The
/// window slides when a tenant asks, by the time that passed, so nothing runs between requests (the framework's
/// sliding-window limiter slides on a timer: one per tenant, or a heartbeat every 100 ms when partitioned).
/// </summary>
public sealed class NewConversationLimiter(IOptions<LimitOptions> options, TimeProvider time)
{
    private static readonly TimeSpan Segment = TimeSpan.FromSeconds(10);
    private const int Segments = 6;

    private readonly int _perMinute = options.Value.NewConversationsPerMinute;
    private readonly TenantTable<Window> _byTenant = new(static () => new Window(), window => window.QuietAt(SegmentAt(time)));

    /// <summary>False when the rate is unlimited (0): nothing needs to know whether a turn starts a conversation.</summary>
    public bool Enabled => _perMinute > 0;

    /// <summary>True when the tenant may start one more conversation now (and it is counted).</summary>
    public bool TryStart(string tenant) =>
        !Enabled || _byTenant.For(tenant).TryTake(_perMinute, SegmentAt(time));

    /// <summary>Tenants with a window kept (for tests).</summary>
    internal int Tenants => _byTenant.Count;

    /// <summary>The current segment's number since the timestamp's origin.</summary>
    private static long SegmentAt(TimeProvider time) => time.GetTimestamp() / (long)(Segment.TotalSeconds * time.TimestampFrequency);

    /// <summary>One tenant's counts of the last six segments (segment numbers since the timestamp's origin).</summary>
    private sealed class Window
    {
        private readonly int[] _counts = new int[Segments];
        private long _segment = -Segments; // the newest segment counted (timestamps start at 0 or later)

        /// <summary>Nothing counted in the minute before <paramref name="now"/>: the same as a new window.</summary>
        public bool QuietAt(long now)
        {
            lock (_counts) return now - _segment >= Segments;
        }

        public bool TryTake(int limit, long now)
        {
            lock (_counts)
            {
                if (now - _segment >= Segments) Array.Clear(_counts); // quiet for a whole window: nothing counts
                else for (var s = _segment + 1; s <= now; s++) _counts[(int)(s % Segments)] = 0; // segments that slid out
                _segment = Math.Max(_segment, now);
                var taken = 0;
                foreach (var count in _counts) taken += count;
                if (taken >= limit) return false;
                _counts[(int)(_segment % Segments)]++;
                return true;
            }
        }
    }
}
