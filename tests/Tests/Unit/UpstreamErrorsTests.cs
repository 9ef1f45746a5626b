using CodexLb.Grains.Upstream;
using CodexLb.Protocol.Errors;

namespace CodexLb.Tests.Unit;

public sealed class UpstreamErrorsTests
{
    [Theory]
    [InlineData(400, "context_length_exceeded", 400, "context_length_exceeded", false)]
    [InlineData(429, "rate_limit_exceeded", 429, "rate_limit_exceeded", true)]
    [InlineData(null, "rate_limit_exceeded", 429, "rate_limit_exceeded", true)]
    [InlineData(500, "server_error", 502, "server_error", true)]
    [InlineData(null, null, 502, "server_error", true)]
    [InlineData(401, "invalid_api_key", 502, ErrorCodes.UpstreamUnavailable, true)]
    public void Maps_provider_errors(int? status, string? code, int expectedStatus, string expectedCode, bool retryAfter)
    {
        var error = UpstreamErrors.ToClientError(new CodexLb.Protocol.Events.EventSummary { Status = status, ErrorCode = code, ErrorMessage = "m" });
        Assert.Equal(expectedStatus, error.Status);
        Assert.Equal(expectedCode, error.Code);
        Assert.Equal(retryAfter, error.RetryAfterSeconds is > 0);
    }

    [Fact]
    public void A_handshake_429_keeps_retry_after_and_other_refusals_are_502()
    {
        var limited = new UpstreamConnectException(429, 7, new Exception()).ToError();
        Assert.Equal((429, 7), (limited.Status, limited.RetryAfterSeconds!.Value));
        var refused = new UpstreamConnectException(503, null, new Exception()).ToError();
        Assert.Equal((502, ErrorCodes.UpstreamUnavailable), (refused.Status, refused.Code));
        Assert.NotNull(refused.RetryAfterSeconds);
        Assert.Equal(502, new UpstreamConnectException(0, null, new Exception()).ToError().Status);
    }
}
