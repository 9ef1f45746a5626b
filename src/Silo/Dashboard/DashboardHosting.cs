using System.Security.Cryptography;
using System.Text;
using Orleans.Dashboard;

namespace CodexLb.Silo.Dashboard;

/// <summary>
/// Serves the Orleans dashboard from the silo. Outside the embedded default it requires Basic authentication
/// (credentials compared in constant time); it is never open by accident: no password means locked.
/// </summary>
public static class DashboardHosting
{
    public const string Path = "/dashboard";

    public static DashboardSettings Read(IConfiguration configuration, bool production)
    {
        var settings = configuration.GetSection(DashboardSettings.Section).Get<DashboardSettings>() ?? new DashboardSettings();
        settings.RequireAuthentication ??= production;
        return settings;
    }

    public static void AddTo(ISiloBuilder silo, DashboardSettings settings)
    {
        if (settings.Enabled) silo.AddDashboard(o => o.HideTrace = true); // the live trace would stream log lines to the browser
    }

    public static void Map(WebApplication app, DashboardSettings settings)
    {
        if (!settings.Enabled) return;
        if (settings.RequireAuthentication == true)
        {
            var expected = settings.Password is { Length: > 0 } password
                ? SHA256.HashData(Encoding.UTF8.GetBytes(settings.Username + ":" + password))
                : null;
            app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments(Path), branch => branch.Use(async (ctx, next) =>
            {
                if (expected is not null && Authorized(ctx.Request.Headers.Authorization.ToString(), expected)) { await next(ctx); return; }
                ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
                ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"codexlb-dashboard\"";
            }));
        }
        app.MapOrleansDashboard(Path);
    }

    private static bool Authorized(string header, byte[] expected)
    {
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        byte[] decoded;
        try { decoded = Convert.FromBase64String(header[6..].Trim()); }
        catch (FormatException) { return false; }
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(decoded), expected);
    }
}
