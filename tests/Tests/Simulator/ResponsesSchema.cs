using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using CodexLb.Tests.Infrastructure;
using Json.Schema;

namespace CodexLb.Tests.Simulator;

/// <summary>
/// Validation against the vendored Open Responses schema (Schemas/openresponses.schema.json, see its README) and
/// against arbitrary JSON Schemas (structured outputs, tool parameters), with JsonSchema.Net.
/// </summary>
internal static class ResponsesSchema
{
    private static readonly Lazy<JsonObject> Document = new(() => JsonNode.Parse(File.ReadAllText(
        Path.Combine(Fixtures.RepoRoot, "tests", "Tests", "Simulator", "Schemas", "openresponses.schema.json")))!.AsObject());

    private static readonly ConcurrentDictionary<string, JsonSchema> Definitions = new();

    private static readonly EvaluationOptions Options = new() { OutputFormat = OutputFormat.List };

    /// <summary>Asserts that <paramref name="instance"/> is a valid <c>$defs/<paramref name="definition"/></c>.</summary>
    public static void AssertValid(string definition, JsonElement instance) => AssertValid(definition, JsonNode.Parse(instance.GetRawText()));

    public static void AssertValid(string definition, JsonNode? instance)
    {
        var schema = Definitions.GetOrAdd(definition, static name =>
        {
            var root = Document.Value.DeepClone().AsObject();
            root["$ref"] = "#/$defs/" + name;
            return JsonSchema.FromText(root.ToJsonString());
        });
        AssertValid(schema, instance, definition);
    }

    /// <summary>Asserts that <paramref name="instance"/> validates against a JSON Schema given as text.</summary>
    public static void AssertValidAgainst(string schemaJson, JsonNode? instance) =>
        AssertValid(JsonSchema.FromText(schemaJson), instance, "the request's schema");

    private static void AssertValid(JsonSchema schema, JsonNode? instance, string what)
    {
        var result = schema.Evaluate(instance, Options);
        if (result.IsValid)
        {
            return;
        }

        var errors = result.Details.Where(d => d.HasErrors)
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Key}: {e.Value}"))
            .Take(20);
        Assert.Fail($"Not a valid {what}:\n{string.Join('\n', errors)}\ninstance: {Truncate(instance?.ToJsonString())}");
    }

    private static string? Truncate(string? text) => text is { Length: > 2000 } ? text[..2000] + "…" : text;
}
