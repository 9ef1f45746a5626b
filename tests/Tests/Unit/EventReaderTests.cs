using System.Text;
using CodexLb.Protocol.Events;

namespace CodexLb.Tests.Unit;

/// <summary>The summary the bridge reads from terminal, created and error events without parsing them into a document.</summary>
public sealed class EventReaderTests
{
    private static EventSummary Summarize(string json) => EventReader.Summarize(Encoding.UTF8.GetBytes(json));

    [Theory]
    [InlineData("response.output_text.delta")]
    [InlineData("response.completed")]
    [InlineData("error")]
    [InlineData("response.queued")]
    public void A_known_event_type_is_read_as_the_one_interned_name(string type)
    {
        var read = EventReader.ReadType(Encoding.UTF8.GetBytes($$"""{"sequence_number":3,"type":"{{type}}","delta":"x"}"""));
        Assert.Equal(type, read);
        Assert.Same(EventTypes.Intern(Encoding.UTF8.GetBytes(type)), read); // no string per relayed event
        Assert.Same(EventTypes.Completed, EventTypes.Intern("response.completed"u8));
    }

    /// <summary>A leading plain type is taken from the bytes; every other layout (an escaped one too) goes through the reader, with the same answer.</summary>
    [Theory]
    [InlineData("""{"type":"response.output_text.delta","delta":"x"}""")]
    [InlineData(""" { "type" :	"response.output_text.delta" , "delta" : "x" }""")]
    [InlineData("""{"delta":"x","type":"response.output_text.delta"}""")]
    [InlineData("""{"delta":{"type":"nested"},"type":"response.output_text.delta"}""")]
    [InlineData("""{"type":"response.output_text.\u0064elta"}""")]
    public void The_type_reads_the_same_wherever_it_stands_and_however_it_is_spaced(string json) =>
        Assert.Same(EventTypes.Intern("response.output_text.delta"u8), EventReader.ReadType(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void An_unknown_or_near_miss_event_type_is_read_as_its_own_text()
    {
        Assert.Equal("response.output_text.deltas", EventReader.ReadType("""{"type":"response.output_text.deltas"}"""u8));
        Assert.Equal("response.output_text.delt", EventReader.ReadType("""{"type":"response.output_text.delt"}"""u8));
        Assert.Equal("codex.rate_limits", EventReader.ReadType("""{"type":"codex.rate_limits"}"""u8));
        var longName = new string('x', 300);
        Assert.Equal(longName, EventReader.ReadType(Encoding.UTF8.GetBytes($$"""{"type":"{{longName}}"}""")));
        Assert.Null(EventReader.ReadType("""{"kind":"response.completed"}"""u8));
    }

    [Fact]
    public void A_completed_event_gives_its_id_and_usage_past_a_long_output()
    {
        var output = string.Join(",", Enumerable.Range(0, 200).Select(i =>
            $$$"""{"type":"message","id":"msg_{{{i}}}","content":[{"type":"output_text","text":"id \"x\" usage {\"input_tokens\":9}"}],"usage":{"input_tokens":1}}"""));
        var summary = Summarize($$$"""
            {"type":"response.completed","sequence_number":7,"response":{"output":[{{{output}}}],"id":"resp_abc","status":"completed",
             "usage":{"input_tokens":1200,"input_tokens_details":{"cached_tokens":1024},"output_tokens":35,"output_tokens_details":{"reasoning_tokens":3}},
             "error":null,"metadata":{"id":"not this one"} } }
            """);
        Assert.Equal("resp_abc", summary.ResponseId);
        Assert.Equal(1200, summary.InputTokens);
        Assert.Equal(1024, summary.CachedTokens);
        Assert.Equal(35, summary.OutputTokens);
        Assert.Null(summary.ErrorCode);
        Assert.Null(summary.Status);
    }

    [Fact]
    public void A_top_level_property_is_found_where_it_lies_and_not_inside_another_value()
    {
        var json = Encoding.UTF8.GetBytes("""{"type":"response.completed","note":{"response":1},"response":{"id":"resp_1","output":[]} ,"tail":"x"}""");
        Assert.True(EventReader.TryFindRawProperty(json, "response"u8, out var found));
        Assert.Equal("""{"id":"resp_1","output":[]}""", Encoding.UTF8.GetString(json.AsSpan(found)));
        Assert.Equal("""{"id":"resp_1","output":[]}""", Encoding.UTF8.GetString(EventReader.ReadRawProperty(json, "response"u8)!));
        Assert.False(EventReader.TryFindRawProperty(json, "item"u8, out _));
        Assert.False(EventReader.TryFindRawProperty("[1]"u8, "response"u8, out _));

        // The summary that reads the response's id and usage says where it lies too (the owner persists it from there).
        var summary = EventReader.Summarize(json);
        Assert.Equal("resp_1", summary.ResponseId);
        Assert.Equal(found, summary.Response);
        Assert.Null(EventReader.Summarize("""{"type":"error","error":{"code":"x"}}"""u8).Response);
    }

    [Theory]
    [InlineData("""{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","instructions":"long","tools":[{"id":"t"}]}}""", "resp_1")]
    [InlineData("""{"response":{"tools":[{"id":"not this"}],"metadata":{"id":"nor this"},"id":"resp_2"},"type":"response.created"}""", "resp_2")]
    [InlineData("""{"type":"response.created","item":{"id":"item"},"response":{"status":"in_progress"}}""", null)]
    [InlineData("""{"type":"response.created","response":{"id":7}}""", null)]
    [InlineData("""{"type":"error","error":{"code":"x"}}""", null)]
    [InlineData("""[1]""", null)]
    public void ReadResponseId_finds_the_responses_own_id_wherever_it_stands_and_nothing_else(string json, string? expected) =>
        Assert.Equal(expected, EventReader.ReadResponseId(Encoding.UTF8.GetBytes(json)));

    /// <summary>A compaction output is recognised by its top-level type alone, escaped or not, never by a nested one.</summary>
    [Theory]
    [InlineData("""{"type":"compaction","encrypted_content":"x"}""", true)]
    [InlineData("""{"id":"cmp_1","type":"compa\u0063tion"}""", true)]
    [InlineData("""{"type":"compa\u0063tion"}""", true)]
    [InlineData("""{ "type" : "compaction" }""", true)]
    [InlineData("""{"type":"compactions"}""", false)]
    [InlineData("""{"type":"compact"}""", false)]
    [InlineData("""{"type":"message","content":[{"type":"compaction"}]}""", false)]
    [InlineData("""{"content":{"type":"compaction"}}""", false)]
    [InlineData("""{"type":["compaction"]}""", false)]
    [InlineData("""[{"type":"compaction"}]""", false)]
    public void HasType_reads_the_top_level_type_only(string json, bool expected) =>
        Assert.Equal(expected, EventReader.HasType(Encoding.UTF8.GetBytes(json), "compaction"u8));

    [Fact]
    public void An_error_frame_gives_its_status_and_error_fields()
    {
        var summary = Summarize("""
            {"type":"error","status":429,"error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"slow down","param":null}}
            """);
        Assert.Equal(429, summary.Status);
        Assert.Equal("rate_limit_exceeded", summary.ErrorCode);
        Assert.Equal("slow down", summary.ErrorMessage);
        Assert.Equal("rate_limit_error", summary.ErrorType);
        Assert.Null(summary.ErrorParam);
        Assert.Null(summary.ResponseId);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void The_response_error_wins_over_a_top_level_one_and_the_top_level_fills_what_it_lacks(bool responseFirst)
    {
        const string response = """ "response":{"id":"resp_f","status":"failed","error":{"code":"server_error","message":null}} """;
        const string top = """ "error":{"code":"other","message":"from the top","type":"server_error"} """;
        var summary = Summarize("{\"type\":\"response.failed\"," + (responseFirst ? response + "," + top : top + "," + response) + "}");
        Assert.Equal("resp_f", summary.ResponseId);
        Assert.Equal("server_error", summary.ErrorCode);
        Assert.Equal("from the top", summary.ErrorMessage);
        Assert.Equal("server_error", summary.ErrorType);
    }

    [Fact]
    public void Values_of_the_wrong_kind_are_skipped_not_thrown_on()
    {
        var summary = Summarize("""
            {"status":"429","error":"boom","response":{"id":7,"usage":{"input_tokens":"many","input_tokens_details":[1,2]},"error":[{"code":"x"}]}}
            """);
        Assert.Null(summary.Status);
        Assert.Null(summary.ErrorCode);
        Assert.Null(summary.ResponseId);
        Assert.Null(summary.InputTokens);
        Assert.Null(summary.CachedTokens);
    }

    [Theory]
    [InlineData("""{"type":"response.output_text.delta","delta":"x","sequence_number":7}""", 7L)]
    [InlineData("""{"sequence_number":0,"type":"response.created","response":{"sequence_number":9}}""", 0L)]
    [InlineData("""{"type":"response.created","response":{"sequence_number":9}}""", null)]
    [InlineData("""{"type":"x","sequence_number":"7"}""", null)]
    [InlineData("""{"type":"x","sequence_number":1.5}""", null)]
    [InlineData("""{"type":"x","sequence_number":null}""", null)]
    public void The_sequence_number_is_read_at_the_top_level_and_only_as_an_integer(string json, long? expected) =>
        Assert.Equal(expected, EventReader.ReadSequenceNumber(Encoding.UTF8.GetBytes(json)));
}
