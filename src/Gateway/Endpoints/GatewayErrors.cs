using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// Makes every non-2xx answer of the host an OpenAI-shaped error (<c>{"error":{"message","type","code","param"}}</c>):
/// an exception becomes a 500 (or, for a request Kestrel refused, that request's own 4xx, logged at Debug without a
/// stack trace), and an answer with a status but no body (an unmatched route: 404; a known path with the wrong
/// method: 405 with <c>Allow</c>; anything else that sets only a status) gets one.
/// </summary>
public static partial class GatewayErrors
{
    public const string LogCategory = "CodexLb.Gateway.Errors";

    /// <summary>
    /// One middleware for both halves (an exception, a status without a body) instead of ASP.NET Core's exception handler
    /// and status-code pages: those were two more async frames and a feature object on every request, turns included.
    /// </summary>
    public static IApplicationBuilder UseOpenAIErrors(this IApplicationBuilder app)
    {
        var logger = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger(LogCategory);
        return app.Use(next => context => InvokeAsync(next, context, logger));
    }

    private static async Task InvokeAsync(RequestDelegate next, HttpContext context, ILogger logger)
    {
        try
        {
            await next(context);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            await WriteExceptionAsync(context, ex, logger);
            return;
        }
        var response = context.Response;
        if (!response.HasStarted && response.StatusCode is >= 400 and < 600 && response.ContentLength is null && string.IsNullOrEmpty(response.ContentType))
            await WriteStatusAsync(context);
    }

    /// <summary>The error for a request Kestrel refused, with Kestrel's status (408 too slow, 413 too large, 400 malformed).</summary>
    public static OpenAIError ForBadRequest(BadHttpRequestException exception, long? bodyLimit = null) => exception.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => ProxyErrors.RequestTimeout(),
        StatusCodes.Status413PayloadTooLarge => bodyLimit is { } limit
            ? ProxyErrors.RequestTooLarge(limit)
            : new OpenAIError(413, ErrorCodes.RequestTooLarge, "The request is too large.", ErrorTypes.InvalidRequest),
        StatusCodes.Status400BadRequest => ProxyErrors.InvalidRequest("The request body is malformed or incomplete."),
        >= 400 and < 500 and var status => ForStatus(status),
        _ => ProxyErrors.InvalidRequest("The request could not be read."),
    };

    /// <summary>A generic error for a status that came without a body.</summary>
    public static OpenAIError ForStatus(int status) => status switch
    {
        StatusCodes.Status400BadRequest => ProxyErrors.InvalidRequest("The request is invalid."),
        StatusCodes.Status401Unauthorized => new(401, ErrorCodes.InvalidApiKey, "Authentication is required.", ErrorTypes.Authentication),
        StatusCodes.Status408RequestTimeout => ProxyErrors.RequestTimeout(),
        StatusCodes.Status413PayloadTooLarge => new(413, ErrorCodes.RequestTooLarge, "The request is too large.", ErrorTypes.InvalidRequest),
        StatusCodes.Status414UriTooLong => ProxyErrors.UriTooLong(RequestHeadLimits.MaxRequestLineBytes),
        StatusCodes.Status431RequestHeaderFieldsTooLarge => ProxyErrors.RequestHeadersTooLarge(RequestHeadLimits.MaxHeaderBytes, RequestHeadLimits.MaxHeaderCount),
        StatusCodes.Status429TooManyRequests => new(429, ErrorCodes.RateLimitExceeded, "Too many requests; retry shortly.", ErrorTypes.RateLimit),
        >= 500 => new(status, ErrorCodes.ServerError, $"The bridge could not process the request ({ReasonPhrases.GetReasonPhrase(status)}).", ErrorTypes.Server),
        _ => new(status, Code(status), ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } reason ? reason + "." : $"HTTP {status}.", ErrorTypes.InvalidRequest),
    };

    /// <summary>"Unsupported Media Type" → <c>unsupported_media_type</c>.</summary>
    private static string Code(int status) =>
        ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } reason
            ? string.Concat(reason.ToLowerInvariant().Select(c => c == ' ' ? '_' : c).Where(c => c is '_' or (>= 'a' and <= 'z') or (>= '0' and <= '9')))
            : "http_" + status;

    private static Task WriteExceptionAsync(HttpContext context, Exception exception, ILogger logger)
    {
        if (exception is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // The client went away: nobody reads an answer (499 is what the access log and the request metric show).
            context.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return Task.CompletedTask;
        }
        context.Response.Clear();
        if (exception is BadHttpRequestException refused)
        {
            // Status only: Kestrel's messages may quote the request, and nothing a client sent belongs in a log line.
            Refused(logger, refused.StatusCode);
            return ErrorResults.WriteAsync(context.Response, ForBadRequest(refused));
        }
        Unhandled(logger, exception);
        return ErrorResults.WriteAsync(context.Response, ProxyErrors.Internal());
    }

    private static Task WriteStatusAsync(HttpContext context)
    {
        var response = context.Response;
        var method = context.Request.Method;
        // The path only (never the query string, which may carry a key), shortened: it is echoed to the client.
        var path = context.Request.Path.Value is { Length: > 0 } p ? (p.Length <= 200 ? p : p[..200] + "…") : "/";
        var error = response.StatusCode switch
        {
            StatusCodes.Status404NotFound => ProxyErrors.RouteNotFound(method, path),
            StatusCodes.Status405MethodNotAllowed => ProxyErrors.MethodNotAllowed(method, path, response.Headers.Allow.ToString()),
            var status => ForStatus(status),
        };
        return ErrorResults.WriteAsync(response, error);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Request refused by the server with {Status}")]
    private static partial void Refused(ILogger logger, int status);

    [LoggerMessage(Level = LogLevel.Error, Message = "An unhandled exception has occurred while executing the request.")]
    private static partial void Unhandled(ILogger logger, Exception exception);
}
