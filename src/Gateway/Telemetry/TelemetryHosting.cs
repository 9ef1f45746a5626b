using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace CodexLb.Gateway.Telemetry;

/// <summary>
/// OpenTelemetry for every host: traces (gateway -> grain -> upstream, propagated through Orleans) and metrics
/// (the bridge's meters plus <c>Microsoft.Orleans</c>), scraped at <c>/metrics</c>; OTLP export when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set.
/// </summary>
public static class TelemetryHosting
{
    public static readonly string[] Meters = [GatewayMetrics.Name, "CodexLb.Grains", "Microsoft.Orleans"];
    public static readonly string[] Sources = [GatewayMetrics.Name, "CodexLb.Grains", "Microsoft.Orleans.Application", "Microsoft.Orleans.Runtime"];

    public static WebApplicationBuilder AddCodexTelemetry(this WebApplicationBuilder builder, string serviceName)
    {
        var otlp = !string.IsNullOrEmpty(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName, serviceInstanceId: Environment.GetEnvironmentVariable("POD_NAME") ?? Environment.MachineName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters).AddAspNetCoreInstrumentation().AddPrometheusExporter();
                if (otlp) metrics.AddOtlpExporter();
            })
            .WithTracing(tracing =>
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
