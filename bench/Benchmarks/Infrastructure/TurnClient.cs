using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>Timestamps (Stopwatch ticks) of one streamed turn as the client saw it.</summary>
public readonly record struct TurnTiming(long Start, long FirstByte, long LastByte, bool Completed, int Status, long Bytes, int Events)
{
    public double TtfbMicros => Ticks.ToMicros(FirstByte - Start);
    public double TtlbMicros => Ticks.ToMicros(LastByte - Start);
}

public static class Ticks
{
    public static double ToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;
}

/// <summary>
/// Posts a Responses body and reads the answer to its end: one HttpClient over a SocketsHttpHandler with enough
/// pooled connections. The body is read in 16 KB chunks and thrown away (optionally copied to a capture stream);
/// the only parsing is a scan for <c>response.completed</c> and a count of SSE event separators.
/// </summary>
public sealed class TurnClient : IDisposable
{
    private static readonly byte[] CompletedMarker = "event: response.completed"u8.ToArray();
    private readonly HttpClient _http;

    public TurnClient(int connections)
    {
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(1, connections),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(10),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(120) };
    }

    /// <param name="sessionId">sent as <c>thread-id</c> and <c>session-id</c> (the Codex CLI's session headers).</param>
    /// <param name="capture">when set, receives the whole body (for the scenarios that build history from it).</param>
    public async Task<TurnTiming> PostAsync(Uri url, byte[] body, string? sessionId, MemoryStream? capture = null, CancellationToken ct = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Product.ApiKey);
        if (sessionId is not null)
        {
            request.Headers.TryAddWithoutValidation("thread-id", sessionId);
            request.Headers.TryAddWithoutValidation("session-id", sessionId);
        }

        var start = Stopwatch.GetTimestamp();
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        long firstByte = 0, bytes = 0;
        var scan = new StreamScan();
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(), ct);
                if (read == 0) break;
                if (firstByte == 0) firstByte = Stopwatch.GetTimestamp();
                bytes += read;
                capture?.Write(buffer, 0, read);
                scan.Add(buffer.AsSpan(0, read));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        var end = Stopwatch.GetTimestamp();
        if (firstByte == 0) firstByte = end;
        var isJson = response.Content.Headers.ContentType?.MediaType == "application/json";
        return new TurnTiming(start, firstByte, end, response.StatusCode == HttpStatusCode.OK && (scan.Completed || isJson), (int)response.StatusCode, bytes, scan.Events);
    }

    public void Dispose() => _http.Dispose();

    /// <summary>Counts SSE event separators and looks for response.completed, across read boundaries.</summary>
    private sealed class StreamScan
    {
        private readonly byte[] _tail = new byte[32];
        private int _tailLength;
        private byte _last;

        public int Events { get; private set; }
        public bool Completed { get; private set; }

        public void Add(ReadOnlySpan<byte> chunk)
        {
            if (_last == (byte)'\n' && chunk[0] == (byte)'\n') Events++;
            for (var rest = chunk; ;)
            {
                var at = rest.IndexOf("\n\n"u8);
                if (at < 0) break;
                Events++;
                rest = rest[(at + 2)..];
            }
            _last = chunk[^1];
            if (Completed) return;
            Completed = chunk.IndexOf(CompletedMarker) >= 0;
            if (!Completed && _tailLength > 0)
            {
                Span<byte> seam = stackalloc byte[64];
                var head = chunk[..Math.Min(chunk.Length, 32)];
                _tail.AsSpan(0, _tailLength).CopyTo(seam);
                head.CopyTo(seam[_tailLength..]);
                Completed = seam[..(_tailLength + head.Length)].IndexOf(CompletedMarker) >= 0;
            }
            _tailLength = Math.Min(chunk.Length, 32);
            chunk[^_tailLength..].CopyTo(_tail);
        }
    }
}
