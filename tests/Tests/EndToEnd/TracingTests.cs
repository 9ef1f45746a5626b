using System.Collections.Concurrent;
using System.Diagnostics;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.EndToEnd;

/// <summary>Tracing on without an exporter (an exporter turns it on by itself): the product propagates traces through Orleans.</summary>
public sealed class TracingProductFixture : ProductFixture
{
    protected override IEnumerable<string> ExtraArgs => ["--CodexLb:Telemetry:Tracing", "true"];
}

/// <summary>Traces: the grain's upstream span is a child of the gateway's turn span and carries GenAI counts, never content.</summary>
public sealed class TracingTests(TracingProductFixture product) : IClassFixture<TracingProductFixture>
{
    [Fact]
    public async Task The_grain_span_continues_the_gateway_trace_with_genai_attributes_and_no_content()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name.StartsWith("CodexLb.", StringComparison.Ordinal),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);

        var secret = "conversation text " + Guid.NewGuid().ToString("N");
        var result = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", secret)]));
        var responseId = result.ResponseId!;

        var deadline = DateTime.UtcNow.AddSeconds(10);
        Activity? turn = null, upstream = null;
        while (DateTime.UtcNow < deadline && (turn is null || upstream is null))
        {
            turn = spans.FirstOrDefault(a => a.OperationName == "codexlb.turn" && (string?)a.GetTagItem("gen_ai.response.id") == responseId);
            upstream = turn is null ? null : spans.FirstOrDefault(a => a.OperationName == "codexlb.upstream_turn" && a.TraceId == turn.TraceId);
            await Task.Delay(50);
        }
        Assert.NotNull(turn);
        Assert.NotNull(upstream);
        Assert.Equal("gpt-5.5", turn.GetTagItem("gen_ai.request.model"));
        Assert.True(turn.GetTagItem("gen_ai.usage.input_tokens") is long input && input > 0);
        Assert.True(upstream.GetTagItem("gen_ai.usage.input_tokens") is long upstreamInput && upstreamInput > 0);
        foreach (var span in new[] { turn, upstream })
            Assert.DoesNotContain(span.TagObjects, t => t.Value?.ToString()?.Contains(secret) == true);
    }
}
