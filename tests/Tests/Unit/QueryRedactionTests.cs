using CodexLb.Gateway.Telemetry;

namespace CodexLb.Tests.Unit;

/// <summary>What the host's logger factory cuts from a line (the end-to-end proof is LogSecrecyTraceTests).</summary>
public sealed class QueryRedactionTests
{
    [Theory]
    [InlineData("Request starting HTTP/1.1 GET http://127.0.0.1:5000/v1/models?api_key=sk-1 - - -", "Request starting HTTP/1.1 GET http://127.0.0.1:5000/v1/models?[redacted] - - -")]
    [InlineData("?api_key=sk-1&x=2", "?[redacted]")]
    [InlineData("GET /v1/responses?key=sk-1 HTTP/1.1", "GET /v1/responses?[redacted] HTTP/1.1")]
    [InlineData("wss://host/v1/responses?token=sk-1", "wss://host/v1/responses?[redacted]")]
    [InlineData("url '/x?key=sk-1'", "url '/x?[redacted]'")]
    // Text with a question mark that is no query stays as it is.
    [InlineData("Is the silo up? It answered.", "Is the silo up? It answered.")]
    [InlineData("no query here", "no query here")]
    public void Query_strings_are_cut(string line, string expected) => Assert.Equal(expected, QueryRedactingLoggerFactory.Redact(line));

    [Theory]
    [InlineData("Connection id \"0H\" bad request data: \"Invalid request header: 'x-api-key sk-1\\x0D\\x0A'\"", "Connection id \"0H\" bad request data: \"Invalid request header: '[redacted]'\"")]
    [InlineData("Invalid request line: 'GET /?k=sk-1 HTTP/1.1 junk\\x0D\\x0A'", "Invalid request line: '[redacted]'")]
    [InlineData("Invalid request target: 'GET /\\x01'", "Invalid request target: '[redacted]'")]
    [InlineData("Unrecognized HTTP version: 'HTTP/7.0'", "Unrecognized HTTP version: '[redacted]'")]
    [InlineData("Connection id \"0H\" started.", "Connection id \"0H\" started.")]
    public void Kestrels_quotes_of_refused_request_bytes_are_cut(string line, string expected) =>
        Assert.Equal(expected, QueryRedactingLoggerFactory.RedactKestrel(line));
}
