using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// The limits on a request's head that clients see (Kestrel's defaults: an 8 KiB request line, 32 KiB and 100 header
/// fields), refused here, first in every host's pipeline, with an OpenAI-shaped 414 or 431. Kestrel's own limits are
/// set at twice these: Kestrel refuses with an empty body before any app code runs, so it is left only requests far
/// past the limits (and request lines or headers it cannot parse at all).
/// </summary>
public sealed class RequestHeadLimits : IStartupFilter
{
    public const int MaxRequestLineBytes = 8 * 1024;
    public const int MaxHeaderBytes = 32 * 1024;
    public const int MaxHeaderCount = 100;

    /// <summary>How far above the limits Kestrel's own refusals start.</summary>
    public const int KestrelFactor = 2;

    public static IServiceCollection AddTo(IServiceCollection services)
    {
        services.Configure<KestrelServerOptions>(kestrel =>
        {
            kestrel.Limits.MaxRequestLineSize = MaxRequestLineBytes * KestrelFactor;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxHeaderBytes * KestrelFactor;
            kestrel.Limits.MaxRequestHeaderCount = MaxHeaderCount * KestrelFactor;
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IStartupFilter, RequestHeadLimits>());
        return services;
    }

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use((context, nextMiddleware) => Refusal(context) is { } error ? ErrorResults.WriteAsync(context.Response, error) : nextMiddleware(context));
        next(app);
    };

    /// <summary>The error for a request whose head is past the limits, counted as Kestrel counts it (CRLFs included); null when within.</summary>
    public static OpenAIError? Refusal(HttpContext context)
    {
        var request = context.Request;
        var target = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value + request.QueryString.Value;
        if (request.Method.Length + 1 + target.Length + 1 + request.Protocol.Length + 2 > MaxRequestLineBytes)
            return ProxyErrors.UriTooLong(MaxRequestLineBytes);
        int count = 0, bytes = 2;
        foreach (var (name, values) in request.Headers)
            foreach (var value in values)
            {
                count++;
                bytes += name.Length + 2 + (value?.Length ?? 0) + 2;
            }
        return count > MaxHeaderCount || bytes > MaxHeaderBytes ? ProxyErrors.RequestHeadersTooLarge(MaxHeaderBytes, MaxHeaderCount) : null;
    }
}
