using System.Text.Json;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// What the SDKs' stream helpers require of one response's stream, checked the way each accumulates it: the openai SDK 7
/// refuses an <c>output_index</c> added twice and a completion that leaves an added item without its
/// <c>output_item.done</c>; the openai SDK 6 replaces its snapshot at each lifecycle event and the Python SDK keeps its
/// first one, both append each added item and address items by position, so every indexed event must find its item in
/// both snapshots, at the position it names.
/// </summary>
public static class StreamContract
{
    public static void AssertOneResponse(IReadOnlyList<(string Type, JsonElement Data)> events)
    {
        var added = new HashSet<int>();
        var done = new HashSet<int>();
        List<JsonElement>? replaced = null; // SDK 6: the latest lifecycle event's output, then what was added
        List<JsonElement>? kept = null; // Python: the first lifecycle event's output, then what was added
        foreach (var (type, data) in events)
        {
            if (data.TryGetProperty("response", out var response) && response.TryGetProperty("output", out var output))
            {
                replaced = [.. output.EnumerateArray()];
                kept ??= [.. replaced];
                continue;
            }
            if (!data.TryGetProperty("output_index", out var indexProperty)) continue;
            Assert.True(replaced is not null && kept is not null, $"{type} before any lifecycle event");
            var index = indexProperty.GetInt32();
            if (type == "response.output_item.added")
            {
                Assert.True(added.Add(index), $"output_index {index} added twice");
                Assert.True(index == replaced.Count && index == kept.Count,
                    $"output_index {index} added at position {replaced.Count} (SDK 6) and {kept.Count} (Python)");
                replaced.Add(data.GetProperty("item"));
                kept.Add(data.GetProperty("item"));
                continue;
            }
            Assert.True(index < replaced.Count && index < kept.Count, $"{type} at output_index {index}: the snapshots hold {replaced.Count} and {kept.Count} items");
            if (type == "response.output_item.done") done.Add(index);
        }
        Assert.True(added.SetEquals(done), $"items added but never done: {string.Join(",", added.Except(done))}");
    }

    public static void AssertOneResponse(IEnumerable<SseEvent> events) => AssertOneResponse([.. events.Select(e => (e.Type, e.Data))]);
}
