using CodexLb.UpstreamSimulator.Faults;

namespace CodexLb.UpstreamSimulator;

/// <summary>
/// Pending faults, consumed in insertion order (one fault per request or handshake), plus the memory of which
/// in-band directives already fired. Thread-safe.
/// </summary>
public sealed class FaultPlan
{
    private readonly Lock _gate = new();
    private readonly List<Slot> _pending = [];
    private readonly HashSet<string> _firedDirectives = new(StringComparer.Ordinal);

    public void Add(Fault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        ArgumentOutOfRangeException.ThrowIfLessThan(fault.Count, 1, nameof(fault));
        lock (_gate)
        {
            _pending.Add(new Slot(fault, fault.Count));
        }
    }

    /// <summary>Drops all pending faults (fired directives are remembered; see <see cref="ForgetDirectives"/>).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _pending.Clear();
        }
    }

    /// <summary>Pending faults, each with <see cref="Fault.Count"/> = the remaining shots.</summary>
    public IReadOnlyList<Fault> Pending
    {
        get
        {
            lock (_gate)
            {
                return _pending.Select(s => s.Fault with { Count = s.Remaining }).ToArray();
            }
        }
    }

    /// <summary>In-band directive strings that already fired (each fires once per simulator lifetime).</summary>
    public IReadOnlyList<string> FiredDirectives
    {
        get
        {
            lock (_gate)
            {
                return _firedDirectives.ToArray();
            }
        }
    }

    /// <summary>Lets every in-band directive fire again (e.g. between independent test cases).</summary>
    public void ForgetDirectives()
    {
        lock (_gate)
        {
            _firedDirectives.Clear();
        }
    }

    internal AppliedFault? TakeForHandshake()
    {
        lock (_gate)
        {
            return TakeFirst(f => f.IsHandshakeFault);
        }
    }

    /// <summary>An explicit fault that matches wins; otherwise the first directive in the text that has not fired.</summary>
    internal AppliedFault? TakeForRequest(FaultContext context)
    {
        lock (_gate)
        {
            if (TakeFirst(f => !f.IsHandshakeFault && Matches(f, context)) is { } explicitFault)
            {
                return explicitFault;
            }

            foreach (var (raw, fault) in InBandDirectives.Parse(context.LatestUserText))
            {
                if (_firedDirectives.Add(raw))
                {
                    return new AppliedFault(fault, raw);
                }
            }

            return null;
        }
    }

    private AppliedFault? TakeFirst(Func<Fault, bool> predicate)
    {
        for (var i = 0; i < _pending.Count; i++)
        {
            var slot = _pending[i];
            if (!predicate(slot.Fault))
            {
                continue;
            }

            if (--slot.Remaining == 0)
            {
                _pending.RemoveAt(i);
            }

            return new AppliedFault(slot.Fault, slot.Fault.Describe());
        }

        return null;
    }

    private static bool Matches(Fault f, FaultContext c) =>
        (f.Transport is null || f.Transport == c.Transport)
        && (f.ConnectionId is null || f.ConnectionId == c.ConnectionId)
        && (f.RequestIndex is null || f.RequestIndex == c.IndexOnConnection)
        && (f.TextContains is null || (c.LatestUserText?.Contains(f.TextContains, StringComparison.Ordinal) ?? false));

    private sealed class Slot(Fault fault, int remaining)
    {
        public Fault Fault { get; } = fault;

        public int Remaining { get; set; } = remaining;
    }
}
