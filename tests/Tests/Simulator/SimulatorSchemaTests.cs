using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Simulator;

/// <summary>
/// The Open Responses compliance suite's seven cases (openresponses/openresponses src/lib/compliance-tests.ts: same
/// request bodies, same checks), plus the other shapes the simulator sends, validated against the vendored schema.
/// </summary>
public sealed class SimulatorSchemaTests
{
    private const string RedHeartPng =
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAACAAAAAgCAIAAAD8GO2jAAABmklEQVR42tyWAaTyUBzFew/eG4AHz+MBSAHKBiJRGFKwIgQQJKLUIioBIhCAiCAAEizAQIAECaASqFFJq84nudjnaqvuPnxzgP9xfrq5938csPn7PwHTKSoViCIEAYEAMhmoKsU2mUCWEQqB5xEMIp/HaGQG2G6RSuH9HQ7H34rFrtPbdz4jl6PbwmEsl3QA1mt4vcRKk8dz9eg6IpF7tt9fzGY0gCgafFRFo5Blc5vLhf3eCOj1yNhM5GRMVK0aATxPZoz09YXjkQDmczJgquGQAPp9WwCNBgG027YACgUC6HRsAZRKBDAY2AJoNv/ZnwzA6WScznG3p4UAymXGAEkyXrTFAh8fLAGqagQAyGaZpYsi7bHTNPz8MEj//LxuFPo+UBS8vb0KaLXubrRa7aX0RMLCykwmn0z3+XA4WACcTpCkh9MFAZpmuVXo+mO/w+/HZvNgbblcUCxaSo/Hyck80Yu6XXDcvfVZr79cvMZjuN2U9O9vKAqjZrfbIZ0mV4TUi9Xqz6jddNy//7+e3n8Fhf/Llo2kxi8AQyGRoDkmAhAAAAAASUVORK5CYII=";

    public static TheoryData<string> Cases => ["basic-response", "system-prompt", "image-input", "multi-turn", "tool-calling"];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Compliance_case_answers_a_valid_completed_response_object(string id)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);

        var (status, response) = await http.PostAsync("", Request(id));

        Assert.Equal(HttpStatusCode.OK, status);
        ResponsesSchema.AssertValid("ResponseResource", response);
        Assert.Equal("completed", response.GetProperty("status").GetString());
        var output = response.GetProperty("output").EnumerateArray().ToList();
        Assert.NotEmpty(output);
        if (id == "tool-calling")
        {
            var call = Assert.Single(output, o => o.GetProperty("type").GetString() == "function_call");
            Assert.Equal("get_weather", call.GetProperty("name").GetString());
            Assert.Equal("San Francisco", JsonDocument.Parse(call.GetProperty("arguments").GetString()!).RootElement.GetProperty("location").GetString());
        }
        else
        {
            Assert.Equal("message", Assert.Single(output).GetProperty("type").GetString());
        }
    }

    [Theory]
    [InlineData("streaming-response")]
    [InlineData("tool-calling-streaming")]
    public async Task Streamed_compliance_case_sends_only_valid_events_and_a_valid_final_response(string id)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);

        var events = await http.StreamAsync(Request(id));

        Assert.All(events, e => ResponsesSchema.AssertValid("StreamingEvent", e));
        Assert.Equal(Enumerable.Range(0, events.Count), events.Select(e => e.GetProperty("sequence_number").GetInt32()));
        var final = events[^1];
        Assert.Equal("response.completed", final.GetProperty("type").GetString());
        ResponsesSchema.AssertValid("ResponseResource", final.GetProperty("response"));
        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        if (id == "tool-calling-streaming")
        {
            Assert.Contains(events, e => e.GetProperty("type").GetString() == "response.output_item.added"
                                         && e.GetProperty("item").GetProperty("type").GetString() == "function_call");
            Assert.Contains("response.function_call_arguments.delta", types);
            Assert.Contains("response.function_call_arguments.done", types);
            Assert.Contains(events, e => e.GetProperty("type").GetString() == "response.output_item.done"
                                         && e.GetProperty("item").GetProperty("type").GetString() == "function_call");
        }
        else
        {
            Assert.Contains("response.output_text.delta", types);
            Assert.All(events.Where(e => e.GetProperty("type").GetString()!.StartsWith("response.output_text.", StringComparison.Ordinal)),
                e => Assert.Equal(JsonValueKind.Array, e.GetProperty("logprobs").ValueKind));
        }
    }

    [Fact]
    public async Task The_response_object_echoes_the_request_settings_and_nulls_completed_at_until_done()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Request("basic-response");
        body["instructions"] = "Be brief.";
        body["temperature"] = 0.2;
        body["top_p"] = 0.9;
        body["max_output_tokens"] = 256;
        body["max_tool_calls"] = 3;
        body["parallel_tool_calls"] = false;
        body["reasoning"] = new JsonObject { ["effort"] = "low", ["summary"] = "auto" };
        body["service_tier"] = "flex";
        body["store"] = false;
        body["text"] = new JsonObject { ["verbosity"] = "low" };
        body["tool_choice"] = "none";
        body["truncation"] = "auto";
        body["user"] = "u-1";
        body["metadata"] = new JsonObject { ["k"] = "v" };
        body["prompt_cache_key"] = "pck";
        body["safety_identifier"] = "sid";

        var events = await http.StreamAsync(body);

        var created = events[0].GetProperty("response");
        Assert.Equal(JsonValueKind.Null, created.GetProperty("completed_at").ValueKind);
        Assert.Equal(JsonValueKind.Null, created.GetProperty("usage").ValueKind);
        Assert.Equal("in_progress", created.GetProperty("status").GetString());
        var done = events[^1].GetProperty("response");
        ResponsesSchema.AssertValid("ResponseResource", done);
        Assert.True(done.GetProperty("completed_at").GetInt64() >= done.GetProperty("created_at").GetInt64());
        Assert.Equal("Be brief.", done.GetProperty("instructions").GetString());
        Assert.Equal(0.2, done.GetProperty("temperature").GetDouble());
        Assert.Equal(0.9, done.GetProperty("top_p").GetDouble());
        Assert.Equal(256, done.GetProperty("max_output_tokens").GetInt32());
        Assert.Equal(3, done.GetProperty("max_tool_calls").GetInt32());
        Assert.False(done.GetProperty("parallel_tool_calls").GetBoolean());
        Assert.Equal("low", done.GetProperty("reasoning").GetProperty("effort").GetString());
        Assert.Equal("auto", done.GetProperty("reasoning").GetProperty("summary").GetString());
        Assert.Equal("flex", done.GetProperty("service_tier").GetString());
        Assert.False(done.GetProperty("store").GetBoolean());
        Assert.False(done.GetProperty("background").GetBoolean());
        Assert.Equal("low", done.GetProperty("text").GetProperty("verbosity").GetString());
        Assert.Equal("text", done.GetProperty("text").GetProperty("format").GetProperty("type").GetString());
        Assert.Equal("none", done.GetProperty("tool_choice").GetString());
        Assert.Equal("auto", done.GetProperty("truncation").GetString());
        Assert.Equal("u-1", done.GetProperty("user").GetString());
        Assert.Equal("v", done.GetProperty("metadata").GetProperty("k").GetString());
        Assert.Equal("pck", done.GetProperty("prompt_cache_key").GetString());
        Assert.Equal("sid", done.GetProperty("safety_identifier").GetString());

        // Defaults as the API sends them.
        var (_, plain) = await http.PostAsync("", Request("basic-response"));
        Assert.True(plain.GetProperty("store").GetBoolean());
        Assert.Equal("default", plain.GetProperty("service_tier").GetString());
        Assert.Equal("auto", plain.GetProperty("tool_choice").GetString());
        Assert.Equal(1, plain.GetProperty("temperature").GetDouble());
        Assert.Equal("medium", plain.GetProperty("text").GetProperty("verbosity").GetString());
    }

    [Fact]
    public async Task Websocket_events_reasoning_items_failures_and_compactions_are_valid_too()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);

        var tool = await client.CreateAsync([SimRequests.User("please RUN_TOOL now")]);
        Assert.All(tool.Events, e => ResponsesSchema.AssertValid("StreamingEvent", e));
        Assert.Contains("response.reasoning_summary_text.delta", tool.Types);

        sim.Faults.Add(Fault.Failed("server_error"));
        var failed = await client.CreateAsync([SimRequests.User("fail please")]);
        Assert.Equal("response.failed", failed.Types.Last());
        Assert.All(failed.Events, e => ResponsesSchema.AssertValid("StreamingEvent", e));
        Assert.Equal("server_error", failed.Response.GetProperty("error").GetProperty("code").GetString());

        var compaction = await client.CreateAsync([SimRequests.User("summarize please compaction_trigger")]);
        Assert.All(compaction.Events, e => ResponsesSchema.AssertValid("StreamingEvent", e));

        var refused = await client.CreateAsync([SimRequests.User("again")], previousResponseId: "resp_unknown");
        ResponsesSchema.AssertValid("WebSocketErrorEvent", refused.Last);
    }

    [Fact]
    public async Task A_deeply_nested_setting_is_not_echoed_so_every_frame_stays_parseable()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        await using var client = await SimWsClient.ConnectAsync(sim);
        var frame = JsonNode.Parse(SimRequests.Create([SimRequests.User("hi")]))!.AsObject();
        frame["instructions"] = JsonNode.Parse(new string('[', 60) + new string(']', 60));
        frame["metadata"] = new JsonObject { ["k"] = "v" };

        await client.SendAsync(frame.ToJsonString());
        var response = await client.ReadResponseAsync(); // parses every frame with the default depth limit (64)

        Assert.True(response.IsCompleted);
        Assert.Equal(JsonValueKind.Null, response.Response.GetProperty("instructions").ValueKind);
        Assert.Equal("v", response.Response.GetProperty("metadata").GetProperty("k").GetString());
    }

    [Fact]
    public void The_vendored_schema_rejects_what_the_simulator_used_to_send()
    {
        // The earlier minimal object (no completed_at, tools, text, usage…) and a text delta without its fields.
        var minimal = JsonNode.Parse("""{"id":"resp_1","object":"response","created_at":1,"model":"m","status":"completed","output":[]}""");
        var delta = JsonNode.Parse("""{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"delta":"x","sequence_number":3}""");

        Assert.ThrowsAny<Exception>(() => ResponsesSchema.AssertValid("ResponseResource", minimal));
        Assert.ThrowsAny<Exception>(() => ResponsesSchema.AssertValid("StreamingEvent", delta));
    }

    /// <summary>The request bodies of compliance-tests.ts, by test id.</summary>
    private static JsonObject Request(string id) => id switch
    {
        "basic-response" => Body(Message("user", "Say hello in exactly 3 words.")),
        "streaming-response" => Body(Message("user", "Count from 1 to 5.")),
        "system-prompt" => Body(Message("system", "You are a pirate. Always respond in pirate speak."), Message("user", "Say hello.")),
        "tool-calling" or "tool-calling-streaming" => WithWeatherTool(Body(Message("user", "What's the weather like in San Francisco?"))),
        "image-input" => Body(new JsonObject
        {
            ["type"] = "message",
            ["role"] = "user",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "input_text", ["text"] = "What do you see in this image? Answer in one sentence." },
                new JsonObject { ["type"] = "input_image", ["image_url"] = RedHeartPng }),
        }),
        "multi-turn" => Body(
            Message("user", "My name is Alice."),
            Message("assistant", "Hello Alice! Nice to meet you. How can I help you today?"),
            Message("user", "What is my name?")),
        _ => throw new ArgumentOutOfRangeException(nameof(id)),
    };

    internal static JsonObject Body(params JsonObject[] input) => new()
    {
        ["model"] = "gpt-4o-mini",
        ["input"] = new JsonArray(input.Cast<JsonNode>().ToArray()),
    };

    internal static JsonObject Message(string role, string content) => new() { ["type"] = "message", ["role"] = role, ["content"] = content };

    internal static JsonObject WithWeatherTool(JsonObject body)
    {
        body["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["name"] = "get_weather",
            ["description"] = "Get the current weather for a location",
            ["parameters"] = JsonNode.Parse("""
                {"type":"object","properties":{"location":{"type":"string","description":"The city and state, e.g. San Francisco, CA"}},"required":["location"]}
                """),
        });
        return body;
    }
}
