using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CodexLb.Gateway.Telemetry;

/// <summary>
/// OpenTelemetry for every host: metrics (the bridge's meters plus <c>Microsoft.Orleans</c>), scraped at
/// <c>/metrics</c>, always; traces (gateway -> grain -> upstream, propagated through Orleans) when something takes them:
/// an OTLP exporter (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>) or <see cref="TracingKey"/>. Without one, no request is sampled
/// and no grain call carries a trace context: that work has no reader.
/// </summary>
public static class TelemetryHosting
{
    public static readonly string[] Meters = [GatewayMetrics.Name, "CodexLb.Grains", "Microsoft.Orleans"];
    public static readonly string[] Sources = [GatewayMetrics.Name, "CodexLb.Grains", "Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    /// <summary>
    /// ASP.NET Core's request duration and Kestrel's connections. Not its routing, diagnostics, rate-limiting and memory-pool
    /// meters (what the instrumentation package enables): each costs measurements on every request or buffer, and the
    /// bridge's own turn, key and refusal counters already say what they would.
    /// </summary>
    public static readonly string[] AspNetCoreMeters = ["Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel"];

    /// <summary>
    /// Orleans' per-message and per-call counters are not collected: they count what <c>orleans_app_requests_latency</c>
    /// (kept, one untagged measurement per call) and the bridge's turn counters already count. They are the
    /// message-processing counters (<c>orleans-messaging-processing-*</c>: dispatcher and acceptor counts, two to four
    /// tagged measurements per message) and the directory cache's lookup counters (<c>orleans-directory-lookups-cache-*</c>:
    /// two per call, as every call is addressed through the cache). The cache's size is still collected. Where nothing
    /// else listens (a gateway pod) they then cost nothing on the call path; a silo with the Orleans dashboard still
    /// measures every Orleans instrument for the dashboard's own meter provider, whatever this view says.
    /// </summary>
    public static MetricStreamConfiguration? DropPerMessageCounters(Instrument instrument) =>
        instrument.Meter.Name == "Microsoft.Orleans"
        && (instrument.Name.StartsWith("orleans-messaging-processing-", StringComparison.Ordinal)
            || instrument.Name.StartsWith("orleans-directory-lookups-cache-", StringComparison.Ordinal))
            ? MetricStreamConfiguration.Drop
            : null;

    /// <summary>Traces on or off whatever the exporter (default: on exactly when an OTLP endpoint is configured).</summary>
    public const string TracingKey = "CodexLb:Telemetry:Tracing";

    /// <summary>Whether this host records traces and propagates them through Orleans calls.</summary>
    public static bool TracingEnabled(IConfiguration configuration) =>
        configuration.GetValue<bool?>(TracingKey) ?? !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);

    public static WebApplicationBuilder AddCodexTelemetry(this WebApplicationBuilder builder, string serviceName)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters).AddMeter(AspNetCoreMeters).AddView(DropPerMessageCounters).AddPrometheusExporter();
                if (otlp) metrics.AddOtlpExporter();
            });
        if (!TracingEnabled(builder.Configuration)) return builder;
        telemetry.WithTracing(tracing =>
        {
            tracing.AddSource(Sources).AddAspNetCoreInstrumentation(o => o.Filter = ctx => ctx.Request.Path != "/metrics" && !ctx.Request.Path.StartsWithSegments("/healthz") && !ctx.Request.Path.StartsWithSegments("/readyz"));
            if (otlp) tracing.AddOtlpExporter();
        });
        return builder;
    }

    public static WebApplication MapCodexTelemetry(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }
}
