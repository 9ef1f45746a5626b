using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Tests.Clients.OpenResponses;

/// <summary>The ported schema checks accept a complete response and its events, and name exactly what a broken one lacks.</summary>
public sealed class OpenResponsesSchemaTests
{
    private const string Message = """
        {"type":"message","id":"msg_1","status":"completed","role":"assistant",
         "content":[{"type":"output_text","text":"Hello there friend","annotations":[],"logprobs":[]}]}
        """;

    private static readonly string Complete = $$$"""
        {"id":"resp_1","object":"response","created_at":1741476777,"completed_at":1741476778,"status":"completed",
         "incomplete_details":null,"model":"gpt-5.5","previous_response_id":null,"instructions":null,
         "output":[{{{Message}}},
                   {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{}","status":"completed"},
                   {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"gAAA"}],
         "error":null,"tools":[{"type":"function","name":"get_weather","description":null,"parameters":{},"strict":true}],
         "tool_choice":"auto","truncation":"disabled","parallel_tool_calls":true,"text":{"format":{"type":"text"}},
         "top_p":1,"presence_penalty":0,"frequency_penalty":0,"top_logprobs":0,"temperature":1,"reasoning":null,
         "usage":{"input_tokens":328,"input_tokens_details":{"cached_tokens":0},"output_tokens":52,
                  "output_tokens_details":{"reasoning_tokens":0},"total_tokens":380},
         "max_output_tokens":null,"max_tool_calls":null,"store":true,"background":false,"service_tier":"default",
         "metadata":{},"safety_identifier":null,"prompt_cache_key":null}
        """;

    private static JsonElement Parse(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public void A_complete_response_and_its_events_have_no_issues()
    {
        Assert.Empty(OpenResponsesSchema.Response(Parse(Complete)));
        string[] events =
        [
            $$"""{"type":"response.created","sequence_number":0,"response":{{Complete}}}""",
            $$"""{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{{Message}}}""",
            """{"type":"response.content_part.added","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[],"logprobs":[]}}""",
            """{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello","logprobs":[]}""",
            """{"type":"response.output_text.done","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Hello","logprobs":[]}""",
            """{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{"}""",
            """{"type":"response.function_call_arguments.done","sequence_number":6,"item_id":"fc_1","output_index":1,"arguments":"{}"}""",
            """{"type":"response.reasoning_summary_text.delta","sequence_number":7,"item_id":"rs_1","output_index":2,"summary_index":0,"delta":"t"}""",
            """{"type":"error","sequence_number":8,"error":{"type":"server_error","code":null,"message":"boom","param":null}}""",
        ];
        Assert.All(events, e => Assert.Empty(OpenResponsesSchema.StreamingEvent(Parse(e))));
    }

    [Fact]
    public void Missing_nullable_fields_logprobs_and_unknown_types_are_named()
    {
        var response = JsonNode.Parse(Complete)!.AsObject();
        response.Remove("completed_at");
        response.Remove("store");
        response["temperature"] = "1";
        response["output"]![0]!["content"]![0]!.AsObject().Remove("logprobs");
        response["output"]!.AsArray().Add(new JsonObject { ["type"] = "compaction", ["id"] = "cmp_1" });
        var issues = OpenResponsesSchema.Response(Parse(response.ToJsonString()));
        Assert.Equal(5, issues.Count);
        Assert.Contains(issues, i => i.StartsWith("completed_at: "));
        Assert.Contains(issues, i => i.StartsWith("store: "));
        Assert.Contains(issues, i => i.StartsWith("temperature: "));
        Assert.Contains(issues, i => i.StartsWith("output.0.content.0.logprobs: "));
        Assert.Contains(issues, i => i.StartsWith("output.3: "));

        Assert.Single(OpenResponsesSchema.StreamingEvent(Parse("""{"type":"response.output_text.delta","sequence_number":3,"item_id":"m","output_index":0,"content_index":0,"delta":"x"}""")));
        Assert.Single(OpenResponsesSchema.StreamingEvent(Parse("""{"type":"response.made_up","sequence_number":1}""")));
    }
}
