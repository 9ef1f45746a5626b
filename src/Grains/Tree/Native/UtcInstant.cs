namespace CodexLb.Grains.Tree.Native;

/// <summary>
/// A UTC time in 8 bytes, for the native tables' entries (a <see cref="DateTimeOffset"/> takes 16 with its offset, and
/// an entry's size is the table's). Converts both ways implicitly, so entries read and compare like the store's clock.
/// </summary>
internal readonly record struct UtcInstant(long UtcTicks)
{
    public static implicit operator UtcInstant(DateTimeOffset time) => new(time.UtcTicks);

    public static implicit operator DateTimeOffset(UtcInstant time) => new(time.UtcTicks, TimeSpan.Zero);
}
