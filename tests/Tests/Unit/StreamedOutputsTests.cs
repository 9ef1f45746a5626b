using System.Text;
using System.Text.Json;
using CodexLb.Protocol.Events;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Unit;

/// <summary>A background response's stream that goes on in new runs after losing earlier ones stays one response to the SDKs.</summary>
public sealed class StreamedOutputsTests
{
    private const string Id = "resp_cut";

    // JSON written with single quotes, for legibility here: Event swaps them for double quotes.
    private static (string Type, byte[] Data) Event(string type, long sequence, string body) =>
        (type, Encoding.UTF8.GetBytes($"{{'type':'{type}',{body}'sequence_number':{sequence}}}".Replace('\'', '"')));

    private static string Message(string itemId, string status, string text = "") =>
        $"{{'id':'{itemId}','type':'message','role':'assistant','status':'{status}','content':[{(text.Length == 0 ? "" : $"{{'type':'output_text','text':'{text}','annotations':[]}}")}]}}";

    private static string Response(string status, string output = "") => $"'response':{{'id':'{Id}','object':'response','status':'{status}','output':[{output}]}},";

    /// <summary>One run's events from <paramref name="first"/>: created, its message added and <paramref name="deltas"/> deltas, and (unless cut) its end.</summary>
    private static List<(string Type, byte[] Data)> Run(long first, string itemId, int deltas, bool cut)
    {
        var n = first;
        var events = new List<(string, byte[])>
        {
            Event("response.created", n++, Response("in_progress")),
            Event("response.in_progress", n++, Response("in_progress")),
            Event("response.output_item.added", n++, $"'output_index':0,'item':{Message(itemId, "in_progress")},"),
            Event("response.content_part.added", n++, "'output_index':0,'content_index':0,'part':{'type':'output_text','text':''},"),
        };
        for (var i = 0; i < deltas; i++) events.Add(Event("response.output_text.delta", n++, $"'output_index':0,'content_index':0,'delta':'w{i} ',"));
        if (cut) return events;
        events.Add(Event("response.output_item.done", n++, $"'output_index':0,'item':{Message(itemId, "completed", "done")},"));
        events.Add(Event("response.completed", n, Response("completed", Message(itemId, "completed", "done"))));
        return events;
    }

    /// <summary>The runs as one stream carries them: each new run (its response.created) begins by closing what the client has.</summary>
    private static List<(string Type, JsonElement Data)> Carry(IEnumerable<(string Type, byte[] Data)> runs)
    {
        var outputs = new StreamedOutputs();
        var stream = new List<(string, byte[])>();
        long last = -1;
        foreach (var (type, data) in runs)
        {
            if (type == "response.created" && stream.Count > 0)
                stream.AddRange(outputs.BeginNewRun(last + 1).Select(closing => (EventTypes.OutputItemDone, closing)));
            var written = outputs.Renumber(type, data);
            outputs.Observe(type, written);
            stream.Add((type, written));
            last = JsonDocument.Parse(stream[^1].Item2).RootElement.GetProperty("sequence_number").GetInt64();
        }
        return [.. stream.Select(e => (e.Item1, JsonDocument.Parse(e.Item2).RootElement))];
    }

    [Fact]
    public void New_runs_after_lost_ones_close_the_items_the_client_has_and_number_their_own_after_them()
    {
        var runs = Run(0, "msg_lost1", 3, cut: true).Concat(Run(1_000_000, "msg_lost2", 1, cut: true)).Concat(Run(2_000_000, "msg_new", 2, cut: false)).ToList();
        // Relayed as they come, the runs are not one response: an index is added three times.
        Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => StreamContract.AssertOneResponse([.. runs.Select(e => (e.Type, JsonDocument.Parse(e.Data).RootElement))]));

        var stream = Carry(runs);

        StreamContract.AssertOneResponse(stream);
        var closed = stream.Where(e => e.Type == "response.output_item.done").Take(2).Select(e => e.Data.GetProperty("item")).ToList();
        Assert.Equal(["msg_lost1", "msg_lost2"], closed.Select(i => i.GetProperty("id").GetString()));
        Assert.All(closed, i => Assert.Equal("incomplete", i.GetProperty("status").GetString()));
        Assert.Equal([0, 1, 2], stream.Where(e => e.Type == "response.output_item.added").Select(e => e.Data.GetProperty("output_index").GetInt32()));
        // The last run's lifecycle events list the earlier items first; its completion is the provider's own: its item alone.
        var lastCreated = stream.Last(e => e.Type == "response.created").Data.GetProperty("response").GetProperty("output");
        Assert.Equal(["msg_lost1", "msg_lost2"], lastCreated.EnumerateArray().Select(i => i.GetProperty("id").GetString()));
        var completed = stream[^1].Data.GetProperty("response").GetProperty("output");
        Assert.Equal("msg_new", Assert.Single(completed.EnumerateArray()).GetProperty("id").GetString());
        var sequences = stream.Select(e => e.Data.GetProperty("sequence_number").GetInt64()).ToList();
        Assert.True(sequences.Zip(sequences.Skip(1)).All(p => p.First < p.Second), string.Join(",", sequences));
    }

    [Fact]
    public void A_stream_of_one_run_passes_unchanged()
    {
        var run = Run(0, "msg_only", 2, cut: false);
        var outputs = new StreamedOutputs();
        foreach (var (type, data) in run)
        {
            Assert.Same(data, outputs.Renumber(type, data));
            outputs.Observe(type, data);
        }
        Assert.False(outputs.Continued);
    }
}
