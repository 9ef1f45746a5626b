using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using CodexLb.UpstreamSimulator;
using static CodexLb.Tests.Simulator.SimulatorSchemaTests;

namespace CodexLb.Tests.Simulator;

/// <summary>The scripted model's behaviour: structured outputs, tool calls without the marker, images, long streams.</summary>
public sealed class SimulatorModelTests
{
    /// <summary>A schema of the kind SDKs derive from zod / pydantic / C# types: $defs, enums, bounds, arrays, anyOf.</summary>
    private const string EventSchema = """
        {
          "type": "object",
          "properties": {
            "title": { "type": "string", "minLength": 12, "maxLength": 40 },
            "date": { "type": "string", "format": "date" },
            "attendees": { "type": "array", "items": { "$ref": "#/$defs/person" }, "minItems": 2, "maxItems": 5 },
            "priority": { "type": "string", "enum": ["high", "low"] },
            "seats": { "type": "integer", "minimum": 10, "maximum": 20 },
            "ratio": { "type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1 },
            "online": { "type": "boolean" },
            "venue": { "anyOf": [ { "type": "null" }, { "$ref": "#/$defs/venue" } ] },
            "tags": { "type": "array", "items": { "type": "string" }, "uniqueItems": true, "minItems": 3 },
            "step": { "type": "integer", "multipleOf": 5, "minimum": 7 }
          },
          "required": ["title", "date", "attendees", "priority", "seats", "ratio", "online", "venue", "tags", "step"],
          "additionalProperties": false,
          "$defs": {
            "person": {
              "type": "object",
              "properties": { "name": { "type": "string" }, "email": { "type": "string", "format": "email" }, "age": { "type": ["integer", "null"], "minimum": 18 } },
              "required": ["name", "email", "age"],
              "additionalProperties": false
            },
            "venue": {
              "type": "object",
              "properties": { "city": { "type": "string" }, "kind": { "const": "hall" } },
              "required": ["city", "kind"],
              "additionalProperties": false
            }
          }
        }
        """;

    [Fact]
    public async Task A_json_schema_text_format_answers_json_that_validates_against_the_schema()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "Plan the launch event in Berlin."));
        body["text"] = new JsonObject
        {
            ["format"] = new JsonObject { ["type"] = "json_schema", ["name"] = "event", ["strict"] = true, ["schema"] = JsonNode.Parse(EventSchema) },
        };

        var events = await http.StreamAsync(body);

        var response = events[^1].GetProperty("response");
        ResponsesSchema.AssertValid("ResponseResource", response);
        var format = response.GetProperty("text").GetProperty("format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("event", format.GetProperty("name").GetString());
        Assert.True(format.GetProperty("strict").GetBoolean());

        var text = string.Concat(events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString()));
        ResponsesSchema.AssertValidAgainst(EventSchema, JsonNode.Parse(text));
        var answer = JsonNode.Parse(text)!;
        Assert.Equal("Berlin", answer["venue"]!["city"]!.GetValue<string>());
        Assert.Equal(text, ResponseJson.OutputText(response));
    }

    [Fact]
    public async Task A_json_object_text_format_answers_a_json_object()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "Reply in JSON."));
        body["text"] = new JsonObject { ["format"] = new JsonObject { ["type"] = "json_object" } };

        var (status, response) = await http.PostAsync("", body);

        Assert.Equal(HttpStatusCode.OK, status);
        ResponsesSchema.AssertValid("ResponseResource", response);
        Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(ResponseJson.OutputText(response)).RootElement.ValueKind);
    }

    [Theory]
    [InlineData("What's the weather like in San Francisco?", "auto", true)]
    [InlineData("Is it raining? Check the forecast weather.", "auto", true)]
    [InlineData("Say hello in exactly 3 words.", "auto", false)]
    [InlineData("Say hello in exactly 3 words.", "required", true)]
    [InlineData("What's the weather like in San Francisco?", "none", false)]
    public async Task Function_tools_are_called_on_a_mention_or_when_required_and_never_with_tool_choice_none(string prompt, string toolChoice, bool calls)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = WithWeatherTool(Body(Message("user", prompt)));
        body["tool_choice"] = toolChoice;

        var (_, response) = await http.PostAsync("", body);

        ResponsesSchema.AssertValid("ResponseResource", response);
        var item = Assert.Single(response.GetProperty("output").EnumerateArray());
        Assert.Equal(calls ? "function_call" : "message", item.GetProperty("type").GetString());
        if (calls)
        {
            var arguments = JsonNode.Parse(item.GetProperty("arguments").GetString()!);
            ResponsesSchema.AssertValidAgainst(body["tools"]![0]!["parameters"]!.ToJsonString(), arguments);
        }
    }

    [Fact]
    public async Task A_named_tool_choice_calls_that_function_and_its_output_is_answered_in_text()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = WithWeatherTool(Body(Message("user", "hello there")));
        ((JsonArray)body["tools"]!).Add(new JsonObject
        {
            ["type"] = "function", ["name"] = "lookupOrder", ["description"] = "Finds an order by its number",
            ["parameters"] = JsonNode.Parse("""{"type":"object","properties":{"order_id":{"type":"integer","minimum":1000},"express":{"type":"boolean"}},"required":["order_id","express"],"additionalProperties":false}"""),
        });
        body["tool_choice"] = new JsonObject { ["type"] = "function", ["name"] = "lookupOrder" };

        var (_, first) = await http.PostAsync("", body);

        var call = Assert.Single(first.GetProperty("output").EnumerateArray());
        Assert.Equal("lookupOrder", call.GetProperty("name").GetString());
        Assert.Equal("""{"order_id":1000,"express":true}""", call.GetProperty("arguments").GetString());

        var followUp = WithWeatherTool(Body(
            Message("user", "hello there"),
            JsonNode.Parse(call.GetRawText())!.AsObject(),
            new JsonObject { ["type"] = "function_call_output", ["call_id"] = call.GetProperty("call_id").GetString(), ["output"] = "shipped on Monday" }));
        var (_, second) = await http.PostAsync("", followUp);

        ResponsesSchema.AssertValid("ResponseResource", second);
        var text = ResponseJson.OutputText(second);
        Assert.Contains("lookupOrder", text);
        Assert.Contains("shipped on Monday", text);
    }

    /// <summary>
    /// The Codex CLI offers its tools on every request, and the existing tests send ordinary prompts through it: no
    /// prompt may become a tool call by accident. The tools below are the Codex CLI 0.169 function tools with their
    /// real first sentences; the prompts are the ones the tests send, plus words from the tools' own vocabulary.
    /// </summary>
    [Theory]
    [InlineData("say hi 1234abcd")]
    [InlineData("resume number 3")]
    [InlineData("a different question")]
    [InlineData("long answer please")]
    [InlineData("and one more thing")]
    [InlineData("summarize please")]
    [InlineData("write the plan, view the image, update the goal, run the command, ask the user for input")]
    public async Task Codex_built_in_tools_are_never_called_by_keyword(string prompt)
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("user", prompt));
        body["tools"] = new JsonArray(
            CodexTool("exec_command", "Runs a command in a PTY, returning output or a session ID for ongoing interaction."),
            CodexTool("write_stdin", "Writes characters to an existing unified exec session and returns recent output."),
            CodexTool("request_user_input", "Request user input for one to three short questions and wait for the response."),
            CodexTool("view_image", "View a local image file from the filesystem when visual inspection is needed."),
            CodexTool("get_goal", "Get the current goal for this thread, including status, budgets, token and elapsed-time usage."),
            CodexTool("create_goal", "Create a goal only when explicitly requested by the user or system/developer instructions."),
            CodexTool("update_goal", "Update the existing goal."),
            CodexTool("update_plan", "Updates the task plan."),
            CodexTool("shell", "Runs a shell command and returns its output."),
            new JsonObject { ["type"] = "custom", ["name"] = "apply_patch", ["description"] = "Use the apply_patch tool to edit files." },
            new JsonObject { ["type"] = "web_search" });

        var (_, response) = await http.PostAsync("", body);

        Assert.Equal("message", Assert.Single(response.GetProperty("output").EnumerateArray()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_image_input_is_accepted_counted_and_acknowledged()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var withImages = Body(new JsonObject
        {
            ["type"] = "message", ["role"] = "user",
            ["content"] = new JsonArray(
                new JsonObject { ["type"] = "input_text", ["text"] = "Compare these." },
                new JsonObject { ["type"] = "input_image", ["image_url"] = "https://example.com/a.png", ["detail"] = "low" },
                new JsonObject { ["type"] = "input_image", ["file_id"] = "file-123" }),
        });
        var textOnly = Body(new JsonObject
        {
            ["type"] = "message", ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "input_text", ["text"] = "Compare these." }),
        });

        var (_, seen) = await http.PostAsync("", withImages);
        var (_, blind) = await http.PostAsync("", textOnly);

        Assert.Contains("I see 2 images.", ResponseJson.OutputText(seen));
        Assert.DoesNotContain("image", ResponseJson.OutputText(blind));
        Assert.True(seen.GetProperty("usage").GetProperty("input_tokens").GetInt32() > blind.GetProperty("usage").GetProperty("input_tokens").GetInt32());
    }

    [Fact]
    public async Task A_long_stream_has_exactly_the_requested_deltas_whether_set_by_metadata_or_options()
    {
        await using var sim = await UpstreamSimulatorHost.StartAsync(new SimulatorOptions { TextDeltas = 2_000 });
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "stream a lot"));
        body["metadata"] = new JsonObject { ["sim_text_deltas"] = "5000" };

        var events = await http.StreamAsync(body);
        var byOptions = await http.StreamAsync(Body(Message("user", "stream a lot")));

        var deltas = events.Where(e => e.GetProperty("type").GetString() == "response.output_text.delta").Select(e => e.GetProperty("delta").GetString()).ToList();
        Assert.Equal(5_000, deltas.Count);
        Assert.All(deltas, d => Assert.False(string.IsNullOrEmpty(d)));
        Assert.Equal(string.Concat(deltas), ResponseJson.OutputText(events[^1].GetProperty("response")));
        Assert.StartsWith("Simulated answer #1.", deltas[0]);
        Assert.Equal(2_000, byOptions.Count(e => e.GetProperty("type").GetString() == "response.output_text.delta"));
    }

    [Fact]
    public async Task A_compaction_trigger_item_is_answered_with_exactly_one_compaction_item()
    {
        // The Codex CLI's remote compaction (v2): a create whose newest input item is {"type":"compaction_trigger"};
        // it fails the turn unless the output is exactly one compaction item.
        await using var sim = await UpstreamSimulatorHost.StartAsync();
        using var http = new SimHttp(sim);
        var body = Body(Message("user", "say hi"), Message("assistant", "Simulated answer #1."));
        ((JsonArray)body["input"]!).Add(new JsonObject { ["type"] = "compaction_trigger" });

        var events = await http.StreamAsync(body);

        Assert.All(events, e => ResponsesSchema.AssertValid("StreamingEvent", e));
        var item = Assert.Single(events[^1].GetProperty("response").GetProperty("output").EnumerateArray());
        Assert.Equal("compaction", item.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(item.GetProperty("encrypted_content").GetString()));
    }

    private static JsonObject CodexTool(string name, string description) => new()
    {
        ["type"] = "function", ["name"] = name, ["description"] = description, ["strict"] = false,
        ["parameters"] = JsonNode.Parse("""{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}"""),
    };
}
