using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;

namespace CodexLb.Protocol.Telemetry;

/// <summary>
/// A counter added to on every turn, kept as one cell per combination of its tag values and read when metrics are
/// collected: an observable counter, the same series at <c>/metrics</c>. An add is a dictionary read and an interlocked
/// add. A <see cref="Counter{T}"/> measurement goes through the OpenTelemetry SDK's tag lookup instead (~0.4 µs each in
/// the floor's profile, eight of them per bridge turn). For tags with a bounded set of values (outcomes, kinds, client
/// keys with their model labels); at most three. As the SDK caps a metric's series, combinations past
/// <see cref="MaxCells"/> are counted under one whose every tag reads <see cref="Overflow"/>.
/// </summary>
public sealed class TaggedCounter
{
    public const int MaxCells = 2000;
    public const string Overflow = "other";

    private readonly string[] _tagNames;
    private readonly ConcurrentDictionary<TagValues, StrongBox<long>> _cells = new();
    private readonly StrongBox<long> _overflow = new();

    public TaggedCounter(Meter meter, string name, string? unit, string? description, params string[] tagNames)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tagNames.Length, 3, nameof(tagNames));
        _tagNames = tagNames;
        meter.CreateObservableCounter(name, Observe, unit, description);
    }

    public void Add(long value) => Add(value, new TagValues(null, null, null));

    public void Add(long value, string tag) => Add(value, new TagValues(tag, null, null));

    public void Add(long value, string tag, string tag2) => Add(value, new TagValues(tag, tag2, null));

    public void Add(long value, string tag, string tag2, string tag3) => Add(value, new TagValues(tag, tag2, tag3));

    private void Add(long value, TagValues values)
    {
        if (!_cells.TryGetValue(values, out var cell))
            cell = _cells.Count < MaxCells ? _cells.GetOrAdd(values, static _ => new StrongBox<long>()) : _overflow;
        Interlocked.Add(ref cell.Value, value);
    }

    private IEnumerable<Measurement<long>> Observe()
    {
        foreach (var (values, cell) in _cells)
            yield return new Measurement<long>(Volatile.Read(ref cell.Value), values.Tags(_tagNames));
        if (Volatile.Read(ref _overflow.Value) is var overflow and > 0)
            yield return new Measurement<long>(overflow, new TagValues(Overflow, Overflow, Overflow).Tags(_tagNames));
    }

    private readonly record struct TagValues(string? First, string? Second, string? Third)
    {
        public KeyValuePair<string, object?>[] Tags(string[] names)
        {
            var tags = new KeyValuePair<string, object?>[names.Length];
            for (var i = 0; i < names.Length; i++) tags[i] = new(names[i], i switch { 0 => First, 1 => Second, _ => Third });
            return tags;
        }
    }
}
