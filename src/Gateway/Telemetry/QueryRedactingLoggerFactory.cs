using System.Collections;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace CodexLb.Gateway.Telemetry;

/// <summary>
/// The host's logger factory, with every URL query string cut from every line before any provider sees it, at every
/// level: ASP.NET Core's request lines ("Request starting … /v1/models?api_key=…") quote the query, which is where a
/// client may put its key. Kestrel's bad-request lines (Debug, detailed once its Information is on) quote the raw request
/// line or header line they refused, a key-bearing header included: that quote is cut too. A level setting can raise
/// those lines; it cannot bring what was cut back. The message, the structured values and the exception's text are
/// redacted; the path stays.
/// </summary>
public sealed partial class QueryRedactingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    /// <summary>What a cut query reads as in a log line.</summary>
    public const string Redacted = "?[redacted]";

    /// <summary>Replaces the host's <see cref="ILoggerFactory"/> with one that wraps it (every provider, whenever added).</summary>
    public static IServiceCollection AddTo(IServiceCollection services)
    {
        services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp =>
            new QueryRedactingLoggerFactory(ActivatorUtilities.CreateInstance<LoggerFactory>(sp))));
        return services;
    }

    /// <summary>A '?' at the start or right after a path or host character, and what follows up to a space or a quote: a query string.</summary>
    [GeneratedRegex(@"(?<=^|[A-Za-z0-9/._~%:\]\-])\?[^\s""'<>]+", RegexOptions.CultureInvariant)]
    private static partial Regex Query();

    /// <summary>Kestrel's quote of the raw bytes it refused: "Invalid request header: 'x-api-key sk-…\x0D\x0A'".</summary>
    [GeneratedRegex(@"(?<=\b(?:line|header|target|version): )'.*'", RegexOptions.CultureInvariant)]
    private static partial Regex RequestBytes();

    /// <summary><paramref name="text"/> without its query strings (the same instance when it has none).</summary>
    public static string Redact(string text) => text.Contains('?') ? Query().Replace(text, Redacted) : text;

    /// <summary><paramref name="text"/> without its query strings or quoted request bytes (the same instance when it has none).</summary>
    public static string RedactKestrel(string text)
    {
        var cut = Redact(text);
        return cut.Contains(": '", StringComparison.Ordinal) ? RequestBytes().Replace(cut, "'[redacted]'") : cut;
    }

    public ILogger CreateLogger(string categoryName) =>
        new Logger(inner.CreateLogger(categoryName),
            categoryName.StartsWith("Microsoft.AspNetCore.Server.Kestrel", StringComparison.Ordinal) ? RedactKestrel : Redact);

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    public void Dispose() => inner.Dispose();

    private sealed class Logger(ILogger inner, Func<string, string> redact) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!inner.IsEnabled(logLevel)) return; // no provider takes it: not formatted (callers need not check first)
            var message = formatter(state, exception);
            var redacted = redact(message);
            var values = state as IReadOnlyList<KeyValuePair<string, object?>>;
            var redactedValues = values is null ? null : RedactValues(values);
            var redactedException = exception is null ? null : RedactException(exception);
            if (ReferenceEquals(redacted, message) && redactedValues is null && ReferenceEquals(redactedException, exception))
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
                return;
            }
            inner.Log(logLevel, eventId, new RedactedState(redactedValues ?? values ?? [], redacted), redactedException ?? exception,
                static (s, _) => s.Message);
        }

        /// <summary>The values with their query strings cut; null when none had one.</summary>
        private KeyValuePair<string, object?>[]? RedactValues(IReadOnlyList<KeyValuePair<string, object?>> values)
        {
            KeyValuePair<string, object?>[]? copy = null;
            for (var i = 0; i < values.Count; i++)
            {
                var (key, value) = values[i];
                var text = value switch
                {
                    string s => s,
                    Uri or Microsoft.AspNetCore.Http.QueryString or Microsoft.AspNetCore.Http.PathString => value.ToString(),
                    _ => null,
                };
                if (text is null || key == "{OriginalFormat}") continue;
                var cut = redact(text);
                if (ReferenceEquals(cut, text)) continue;
                copy ??= [.. values];
                copy[i] = new(key, cut);
            }
            return copy;
        }

        private Exception RedactException(Exception exception)
        {
            var text = exception.ToString();
            var redacted = redact(text);
            return ReferenceEquals(text, redacted) ? exception : new RedactedException(redact(exception.Message), redacted);
        }
    }

    /// <summary>A line's values and message after redaction; providers read it like any structured state.</summary>
    private sealed class RedactedState(IReadOnlyList<KeyValuePair<string, object?>> values, string message) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public string Message => message;
        public KeyValuePair<string, object?> this[int index] => values[index];
        public int Count => values.Count;
        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => values.GetEnumerator();
        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
        public override string ToString() => message;
    }

    /// <summary>Stands in for an exception whose text quoted a query string: its type, message and stack, redacted.</summary>
    private sealed class RedactedException(string message, string text) : Exception(message)
    {
        public override string? StackTrace => null;
        public override string ToString() => text;
    }
}
