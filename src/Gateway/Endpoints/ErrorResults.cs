using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Gateway.Endpoints;

/// <summary>Writes OpenAI-style error bodies with their status and, for retryable ones, Retry-After.</summary>
public static class ErrorResults
{
    public static Task WriteAsync(HttpResponse response, OpenAIError error)
    {
        response.StatusCode = error.Status;
        response.ContentType = "application/json";
        if (error.RetryAfterSeconds is { } seconds) response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return response.Body.WriteAsync(error.ToJsonBytes()).AsTask();
    }

    public static TurnRejection ToRejection(this OpenAIError e) => new(e.Status, e.Code, e.Message, e.Type, e.Param, e.RetryAfterSeconds);

    public static OpenAIError ToError(this TurnRejection rejection) =>
        new(rejection.Status, rejection.Code, rejection.Message, rejection.ErrorType, rejection.Param) { RetryAfterSeconds = rejection.RetryAfterSeconds };
}
