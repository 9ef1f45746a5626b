namespace CodexLb.Silo.Dashboard;

/// <summary>The Orleans dashboard at <c>/dashboard</c> (<c>CodexLb:Dashboard</c>).</summary>
public sealed class DashboardSettings
{
    public const string Section = "CodexLb:Dashboard";

    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The dashboard's per-method grain profile (calls, time and failures per grain method). It wraps every grain call
    /// in a filter, so it is off unless asked for; everything else the dashboard shows works without it.
    /// </summary>
    public bool Profiling { get; set; }

    /// <summary>
    /// Seconds between the dashboard's counter samples (its charts' resolution). Each sample collects every Orleans metric
    /// and reports it through grain calls: at the library's 1 s an idle silo spent 30 ms CPU/s, at 5 s 23.
    /// </summary>
    public int CounterSeconds { get; set; } = 5;

    /// <summary>
    /// Basic authentication. Defaults to on in production mode and whenever client API keys are configured
    /// (<c>CodexLb:Gateway:ApiKeys</c>), embedded default included; it cannot be turned off while client keys are set.
    /// Only the embedded default without client keys (open mode, loopback) serves it without credentials.
    /// </summary>
    public bool? RequireAuthentication { get; set; }

    public string Username { get; set; } = "admin";

    /// <summary>With authentication on and no password set, the dashboard stays locked (401) rather than open.</summary>
    public string? Password { get; set; }
}
