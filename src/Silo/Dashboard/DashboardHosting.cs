using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Endpoints;
using CodexLb.Gateway.Hosting;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Options;
using Orleans.Dashboard;

namespace CodexLb.Silo.Dashboard;

/// <summary>
/// Serves the Orleans dashboard from the silo. It requires Basic authentication (credentials compared in constant time)
/// in production mode and whenever client API keys are configured, embedded default included; it is never open by
/// accident: no password means locked. A path naming a silo that is not a silo address is a 400, one naming a silo
/// this cluster does not know a 404 (the dashboard itself would throw: a 500 with a stack trace in the log).
/// </summary>
public static class DashboardHosting
{
    public const string Path = "/dashboard";

    /// <summary>The dashboard's routes whose last segment is a silo address (<c>ip:port@generation</c>).</summary>
    private static readonly string[] SiloRoutes = ["SiloProperties", "SiloMetadata", "SiloStats", "SiloCounters", "HistoricalStats"];

    /// <param name="production">Redis production mode: authentication defaults to on.</param>
    public static DashboardSettings Read(IConfiguration configuration, bool production)
    {
        var settings = configuration.GetSection(DashboardSettings.Section).Get<DashboardSettings>() ?? new DashboardSettings();
        var clientKeys = configuration.GetSection(GatewayOptions.Section + ":ApiKeys").GetChildren().Any(k => !string.IsNullOrEmpty(k.Value))
            || configuration.GetSection("CodexLb:Keys").GetChildren().Any(); // named keys (CodexLb:Keys:N) lock it the same way
        if (settings.CounterSeconds is < 1 or > 3600)
            throw new OptionsValidationException(DashboardSettings.Section, typeof(DashboardSettings),
                [$"{DashboardSettings.Section}:CounterSeconds must be between 1 and 3600."]);
        if (settings.Enabled && clientKeys && settings.RequireAuthentication == false)
        {
            throw new OptionsValidationException(DashboardSettings.Section, typeof(DashboardSettings),
            [
                $"{DashboardSettings.Section}:RequireAuthentication cannot be false while client API keys ({GatewayOptions.Section}:ApiKeys or CodexLb:Keys) are set: " +
                $"set {DashboardSettings.Section}:Password, or turn the dashboard off with {DashboardSettings.Section}:Enabled=false.",
            ]);
        }
        settings.RequireAuthentication ??= production || clientKeys;
        return settings;
    }

    public static void AddTo(ISiloBuilder silo, DashboardSettings settings)
    {
        if (!settings.Enabled) return;
        silo.AddDashboard(o =>
        {
            o.HideTrace = true; // the live trace would stream log lines to the browser
            o.CounterUpdateIntervalMs = settings.CounterSeconds * 1000;
        });
        // Its profiler filter runs on every grain call even while nobody looks (it only skips the bookkeeping then).
        if (settings.Profiling) return;
        foreach (var profiler in silo.Services.Where(d => d.ServiceType == typeof(IIncomingGrainCallFilter) && d.ImplementationType?.Name == "GrainProfilerFilter").ToList())
            silo.Services.Remove(profiler);
    }

    public static void Map(WebApplication app, DashboardSettings settings)
    {
        if (!settings.Enabled) return;
        var expected = settings.RequireAuthentication == true
            ? settings.Password is { Length: > 0 } password ? SHA256.HashData(Encoding.UTF8.GetBytes(settings.Username + ":" + password)) : []
            : null;
        // Its own small pipeline, made on its first request: mapping the dashboard reads and gzips every one of its assets,
        // a third of a second of CPU at each process start (11% of a silo's), and most silos never serve it.
        var dashboard = new Lazy<RequestDelegate>(() => BuildPipeline(app.Services));
        app.UseWhen(ctx => ctx.Request.Path.StartsWithSegments(Path), branch => branch.Run(async ctx =>
        {
            if (expected is not null && !Authorized(ctx.Request.Headers.Authorization.ToString(), expected))
            {
                ctx.Response.Headers.WWWAuthenticate = "Basic realm=\"codexlb-dashboard\"";
                await ErrorResults.WriteAsync(ctx.Response, new OpenAIError(StatusCodes.Status401Unauthorized, "dashboard_unauthorized",
                    "The dashboard requires Basic authentication (CodexLb:Dashboard:Username and Password).", ErrorTypes.Authentication));
                return;
            }
            if (CheckSiloAddress(ctx) is { } error)
            {
                await ErrorResults.WriteAsync(ctx.Response, error);
                return;
            }
            await dashboard.Value(ctx);
        }));
    }

    /// <summary>Routing to the dashboard's endpoints and running them, every non-2xx answer OpenAI-shaped as the host's are.</summary>
    private static RequestDelegate BuildPipeline(IServiceProvider services)
    {
        var dashboard = new ApplicationBuilder(services); // not the host's route table: this pipeline's own
        dashboard.UseOpenAIErrors();
        dashboard.UseRouting();
        dashboard.UseEndpoints(endpoints => MapEndpoints(endpoints));
        return dashboard.Build();
    }

    private static void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapOrleansDashboard(Path).AddEndpointFilter(async (invocation, next) =>
        {
            try
            {
                return await next(invocation);
            }
            catch (Exception ex) when (IsMalformedInput(ex) && !invocation.HttpContext.Response.HasStarted)
            {
                // Whatever the route, input the dashboard cannot parse is the caller's mistake: 400, no stack trace.
                await ErrorResults.WriteAsync(invocation.HttpContext.Response, MalformedPath());
                return Results.Empty;
            }
        });
    }

    /// <summary>A 400 for a silo route whose address does not parse, a 404 for one this cluster does not know; null otherwise.</summary>
    private static OpenAIError? CheckSiloAddress(HttpContext ctx)
    {
        var rest = ctx.Request.Path.Value.AsSpan(Path.Length).TrimStart('/');
        var slash = rest.IndexOf('/');
        if (slash < 0) return null;
        var route = rest[..slash].ToString();
        if (!SiloRoutes.Contains(route, StringComparer.OrdinalIgnoreCase)) return null;
        var text = rest[(slash + 1)..].ToString();
        if (text.Length == 0) return null; // the dashboard answers these itself (400)
        SiloAddress address;
        try
        {
            address = SiloAddress.FromParsableString(text);
        }
        catch (Exception ex) when (IsMalformedInput(ex))
        {
            return MalformedPath();
        }
        var membership = ctx.RequestServices.GetService<Orleans.Runtime.IClusterMembershipService>();
        return membership is null || membership.CurrentSnapshot.Members.ContainsKey(address)
            ? null
            : new OpenAIError(StatusCodes.Status404NotFound, "silo_not_found", "This cluster has no silo with that address.");
    }

    private static OpenAIError MalformedPath() => new(StatusCodes.Status400BadRequest, "invalid_dashboard_path",
        "Not a valid dashboard path (a silo is named ip:port@generation).");

    private static bool IsMalformedInput(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
            if (ex is FormatException or ArgumentException or OverflowException or IndexOutOfRangeException) return true;
        return false;
    }

    private static bool Authorized(string header, byte[] expected)
    {
        if (expected.Length == 0 || !header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return false;
        byte[] decoded;
        try { decoded = Convert.FromBase64String(header[6..].Trim()); }
        catch (FormatException) { return false; }
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(decoded), expected);
    }
}
