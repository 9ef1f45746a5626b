namespace CodexLb.Silo.Dashboard;

/// <summary>The Orleans dashboard at <c>/dashboard</c> (<c>CodexLb:Dashboard</c>).</summary>
public sealed class DashboardSettings
{
    public const string Section = "CodexLb:Dashboard";

    public bool Enabled { get; set; } = true;

    /// <summary>Basic authentication; defaults to on everywhere except the embedded default.</summary>
    public bool? RequireAuthentication { get; set; }

    public string Username { get; set; } = "admin";

    /// <summary>With authentication on and no password set, the dashboard stays locked (401) rather than open.</summary>
    public string? Password { get; set; }
}
