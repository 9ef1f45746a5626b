using System.Text.Json;

namespace CodexLb.Tests.Infrastructure;

/// <summary>
/// What the SDKs' stream helpers require of one response's stream, checked the way each accumulates it: the openai SDK 7
/// refuses an <c>output_index</c> added twice and a completion that leaves an added item without its
/// <c>output_item.done</c>; the openai SDK 6 and the Python SDK replace their snapshot at each lifecycle event and then
/// address items by position, so every indexed event must find its item there.
/// </summary>
public static class StreamContract
{
    public static void AssertOneResponse(IReadOnlyList<(string Type, JsonElement Data)> events)
    {
        var added = new HashSet<int>();
        var done = new HashSet<int>();
        var snapshot = new List<JsonElement>(); // the positional accumulator's output
        foreach (var (type, data) in events)
        {
            if (data.TryGetProperty("response", out var response) && response.TryGetProperty("output", out var output))
            {
                snapshot = [.. output.EnumerateArray()];
                continue;
            }
            if (!data.TryGetProperty("output_index", out var indexProperty)) continue;
            var index = indexProperty.GetInt32();
            if (type == "response.output_item.added")
            {
                Assert.True(added.Add(index), $"output_index {index} added twice");
                Assert.True(index == snapshot.Count, $"output_index {index} added at position {snapshot.Count}");
                snapshot.Add(data.GetProperty("item"));
                continue;
            }
            Assert.True(index < snapshot.Count, $"{type} at output_index {index}: the snapshot holds {snapshot.Count} items");
            if (type == "response.output_item.done") done.Add(index);
        }
        Assert.True(added.SetEquals(done), $"items added but never done: {string.Join(",", added.Except(done))}");
    }

    public static void AssertOneResponse(IEnumerable<SseEvent> events) => AssertOneResponse([.. events.Select(e => (e.Type, e.Data))]);
}
