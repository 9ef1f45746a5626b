namespace CodexLb.Grains.Abstractions;

/// <summary>
/// One client key's limits and usage, cluster-wide: keyed by the key's tenant, one activation in the cluster, so the
/// turns every gateway admits for the key are counted in one place and its limits hold exactly however many gateways
/// it uses. Gateways call it per turn only for keys that have a limit; usage is reported in batches, off the turn's path.
/// </summary>
public interface IClientKeyGrain : IGrainWithStringKey
{
    /// <summary>Counts one turn of <paramref name="model"/> if every limit allows it; otherwise says which limit refused it, and for how long.</summary>
    Task<KeyAdmission> Admit(KeyLimits limits, string model);

    /// <summary>Requests (of turns no admission counted) and tokens a gateway saw since its last report.</summary>
    Task Record(ModelUsage[] usage);

    /// <summary>The key's requests and tokens in the current minute (sliding) and UTC day, per model.</summary>
    Task<KeyUsage> GetUsage();
}

/// <summary>A key's limits; 0 means none. Sent with each admission, so a configuration change applies at once.</summary>
[GenerateSerializer, Immutable]
public sealed record KeyLimits(
    [property: Id(0)] long RequestsPerMinute,
    [property: Id(1)] long TokensPerMinute,
    [property: Id(2)] long TokensPerDay)
{
    public static readonly KeyLimits None = new(0, 0, 0);

    /// <summary>True when the key has a limit, i.e. its turns need an admission by its grain.</summary>
    public bool Any => RequestsPerMinute > 0 || TokensPerMinute > 0 || TokensPerDay > 0;
}

/// <summary>Which limit refused a turn.</summary>
public enum KeyLimit
{
    None = 0,
    RequestsPerMinute = 1,
    TokensPerMinute = 2,
    TokensPerDay = 3,
}

/// <summary>An admission's answer: admitted, or the limit that refused and when to retry.</summary>
[GenerateSerializer, Immutable]
public sealed record KeyAdmission([property: Id(0)] KeyLimit Refused, [property: Id(1)] int RetryAfterSeconds)
{
    public static readonly KeyAdmission Admitted = new(KeyLimit.None, 0);

    public bool IsAdmitted => Refused == KeyLimit.None;
}

/// <summary>Requests and tokens of one model.</summary>
[GenerateSerializer, Immutable]
public sealed record ModelUsage(
    [property: Id(0)] string Model,
    [property: Id(1)] long Requests,
    [property: Id(2)] long InputTokens,
    [property: Id(3)] long OutputTokens)
{
    public long TotalTokens => InputTokens + OutputTokens;
}

/// <summary>A key's usage: per model, over the last minute and the current UTC day (which ends at <paramref name="DayEndsAt"/>).</summary>
[GenerateSerializer, Immutable]
public sealed record KeyUsage(
    [property: Id(0)] ModelUsage[] Minute,
    [property: Id(1)] ModelUsage[] Day,
    [property: Id(2)] DateTimeOffset DayEndsAt);
