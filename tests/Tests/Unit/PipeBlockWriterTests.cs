using System.IO.Pipelines;
using System.Text;
using CodexLb.Gateway.Streaming;

namespace CodexLb.Tests.Unit;

/// <summary>
/// An SSE answer's writes go into one block of the response pipe and reach it only when committed (a flush or the end),
/// in the order written, however many blocks a batch takes.
/// </summary>
public sealed class PipeBlockWriterTests
{
    private static async Task<string> ReadAllAsync(Pipe pipe)
    {
        await pipe.Writer.CompleteAsync();
        var bytes = new List<byte>();
        while (true)
        {
            var result = await pipe.Reader.ReadAsync();
            foreach (var segment in result.Buffer) bytes.AddRange(segment.ToArray());
            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted) return Encoding.UTF8.GetString(bytes.ToArray());
        }
    }

    [Fact]
    public async Task Events_written_back_to_back_reach_the_pipe_in_one_commit_at_the_flush()
    {
        var pipe = new Pipe();
        var writer = new PipeBlockWriter(pipe.Writer);
        SseWriter.WriteEvent(writer, "response.created", "{\"a\":1}"u8);
        SseWriter.WriteEvent(writer, "response.output_text.delta", "{\"d\":\"hi\"}"u8);
        SseWriter.WriteComment(writer, "keepalive"u8);
        Assert.Equal(0, pipe.Writer.UnflushedBytes); // nothing committed yet

        await writer.FlushAsync(CancellationToken.None);
        SseWriter.WriteEvent(writer, "response.completed", "{}"u8);
        writer.Commit();
        writer.Commit(); // nothing more to commit: no change

        Assert.Equal(
            "event: response.created\ndata: {\"a\":1}\n\n"
            + "event: response.output_text.delta\ndata: {\"d\":\"hi\"}\n\n"
            + ": keepalive\n\n"
            + "event: response.completed\ndata: {}\n\n",
            await ReadAllAsync(pipe));
    }

    [Fact]
    public async Task A_write_larger_than_the_block_left_commits_what_came_before_it_first()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 0, minimumSegmentSize: 256)); // read after the flush: never pause it
        var writer = new PipeBlockWriter(pipe.Writer);
        var expected = new StringBuilder();
        for (var i = 0; i < 40; i++)
        {
            // Events of growing size: some fit the block left, some need a new one (up to 20 KB, past any segment).
            var payload = "{\"n\":" + i + ",\"pad\":\"" + new string('x', i * 500) + "\"}";
            SseWriter.WriteEvent(writer, "e", Encoding.UTF8.GetBytes(payload));
            expected.Append("event: e\ndata: ").Append(payload).Append("\n\n");
        }
        await writer.FlushAsync(CancellationToken.None);
        Assert.Equal(expected.ToString(), await ReadAllAsync(pipe));
    }

    [Fact]
    public void Advancing_past_the_span_handed_out_is_refused()
    {
        var writer = new PipeBlockWriter(new Pipe().Writer);
        var length = writer.GetSpan(16).Length;
        Assert.True(length >= 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(length + 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Advance(-1));
        writer.Advance(length); // all of it is fine
    }
}
