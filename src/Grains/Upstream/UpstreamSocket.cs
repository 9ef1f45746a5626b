using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Accounts;
using CodexLb.Grains.Upstream.WebSockets;
using CodexLb.Protocol.Events;
using CodexLb.Protocol.Errors;

namespace CodexLb.Grains.Upstream;

/// <summary>
/// One long-lived websocket to the provider. A single reader loop turns frames into <see cref="UpstreamEvent"/>s;
/// a gate admits one unacknowledged <c>response.create</c> at a time (released by <c>response.created</c>, an error
/// frame or the socket's end), because the provider runs one response per connection.
/// </summary>
public sealed class UpstreamSocket : IAsyncDisposable
{
    private readonly WebSocketConnection _socket;
    // The reader's continuation is a return: it runs on the read loop's thread rather than being queued (one thread-pool
    // hop less per event the grain waits for; the grain's own continuation still goes to its scheduler).
    private readonly UpstreamInbox _events = new();
    private readonly SemaphoreSlim _ackGate = new(1, 1);
    private int _awaitingAck;
    private readonly Task _readLoop;
    private readonly Lazy<Task> _close; // the close handshake, started once by whichever of Evict and DisposeAsync comes first

    /// <summary>How long closing may take: our close frame out, the provider's reply in; then the connection is cut.</summary>
    internal static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(2);

    private readonly TimeProvider _time;

    private UpstreamSocket(WebSocketConnection socket, HttpResponseHeaders handshake, TimeProvider time, string account, Uri baseUrl)
    {
        _socket = socket;
        _time = time;
        Account = account;
        BackendApi = UpstreamOptions.IsBackendApi(baseUrl);
        OpenedAt = LastActivity = time.GetUtcNow();
        Usage = ProviderUsage.FromHeaders(handshake, OpenedAt); // read once: the headers are not kept for the socket's lifetime
        _readLoop = ReadLoopAsync();
        _close = new(CloseAsync, LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The upstream account whose credentials opened this socket (its anchors are that account's).</summary>
    public string Account { get; }

    /// <summary>The account's base URL is a ChatGPT backend: that decides what <c>store</c> may be sent.</summary>
    public bool BackendApi { get; }

    /// <summary>
    /// The latest usage the provider reported on this socket: its handshake's rate-limit headers, then each
    /// <c>codex.rate_limits</c> event (consumed here, never relayed: it describes a pool account, not the client's).
    /// </summary>
    public AccountUsage? Usage { get; private set; }

    public DateTimeOffset OpenedAt { get; }
    public DateTimeOffset LastActivity { get; private set; }

    /// <summary>
    /// The provider's latest completed response on THIS connection, as the tree names it: the only response it will accept
    /// as an anchor (under <see cref="ProviderAnchorId"/> when the provider knows it by another id).
    /// </summary>
    public string? AnchorResponseId
    {
        get;
        set
        {
            field = value;
            ProviderAnchorId = value;
        }
    }

    /// <summary>The provider's own id for <see cref="AnchorResponseId"/>: another only for a re-run response, which keeps its client's id.</summary>
    public string? ProviderAnchorId { get; private set; }

    /// <summary>Anchors on a response the provider knows as <paramref name="providerId"/> and the tree as <paramref name="treeId"/>.</summary>
    public void AnchorAs(string treeId, string providerId)
    {
        AnchorResponseId = treeId;
        ProviderAnchorId = providerId;
    }

    /// <summary>A turn is using this socket: it is never evicted to make room for another.</summary>
    public bool Busy { get; set; }

    public UpstreamSocket MarkBusy()
    {
        Busy = true;
        return this;
    }

    /// <summary>
    /// Closed to make room for another conversation's socket (<see cref="UpstreamSocketBudget"/>); thread-safe. The close
    /// handshake runs on its own: the evicting turn does not wait for it, the owner's <see cref="DisposeAsync"/> does.
    /// </summary>
    public void Evict()
    {
        CloseReason ??= "evicted: the silo's socket budget was spent";
        _ = _close.Value;
    }

    /// <summary>A pong when the socket sent nothing for <paramref name="silence"/> (<see cref="UpstreamKeepAlive"/>'s sweep).</summary>
    public void KeepAliveIfIdle(TimeSpan silence) => _socket.KeepAliveIfIdle(silence);

    /// <summary>More events were already here when the last one was read: the next read completes at once.</summary>
    public bool MoreAfterRead => _events.MoreAfterRead;

    public bool IsOpen => _socket.State == WebSocketState.Open && !_events.IsDrained;

    /// <summary>The connection's state: after a close, <see cref="WebSocketState.Closed"/> when both sides said so, else aborted.</summary>
    internal WebSocketState State => _socket.State;

    /// <summary>Opens a socket with one account's credentials (<paramref name="lease"/>: its base URL, token and account id).</summary>
    public static async Task<UpstreamSocket> ConnectAsync(UpstreamOptions options, AccountLease lease, TimeProvider time, CancellationToken cancellationToken)
    {
        List<KeyValuePair<string, string>> headers = [new("OpenAI-Beta", "responses_websockets=2026-02-06")];
        if (!string.IsNullOrEmpty(lease.Token)) headers.Add(new("Authorization", "Bearer " + lease.Token));
        if (!string.IsNullOrEmpty(lease.AccountId)) headers.Add(new("chatgpt-account-id", lease.AccountId));
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        var baseUrl = lease.BaseUrl is { } leaseUrl ? new Uri(leaseUrl) : options.BaseUrl;
        try
        {
            var (stream, handshake) = await WebSocketHandshake.ConnectAsync(UpstreamOptions.WebSocketUriFor(baseUrl), headers, timeout.Token)
                .ConfigureAwait(false);
            return new UpstreamSocket(new WebSocketConnection(stream, time), handshake, time, lease.Account, baseUrl);
        }
        catch (WebSocketHandshakeException ex)
        {
            throw new UpstreamConnectException(ex.Status, UpstreamHttp.RetryAfterSeconds(ex.Headers), ex);
        }
        catch (Exception ex) when (ex is OperationCanceledException or HttpRequestException or IOException)
        {
            throw new UpstreamConnectException(0, null, ex);
        }
    }

    /// <summary>Sends one request frame once no earlier request is unacknowledged.</summary>
    /// <exception cref="WebSocketException">The socket is gone (closed, aborted, or lost mid-send): nothing was acknowledged.</exception>
    /// <exception cref="OperationCanceledException">The caller's token was cancelled.</exception>
    public async Task SendAsync(ReadOnlyMemory<byte> frame, CancellationToken cancellationToken)
    {
        await _ackGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        Volatile.Write(ref _awaitingAck, 1);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            // A frame cut off halfway leaves the connection unusable, so a cancelled send aborts the socket.
            using (cancellationToken.UnsafeRegister(static socket => ((WebSocketConnection)socket!).Abort(), _socket))
                await _socket.SendTextAsync(frame).ConfigureAwait(false);
            LastActivity = _time.GetUtcNow();
        }
        catch (Exception ex)
        {
            Acknowledge();
            if (cancellationToken.IsCancellationRequested) throw new OperationCanceledException(cancellationToken);
            if (ex is WebSocketException) throw;
            // Anything else thrown by a send on a socket closing under it means the same to a turn.
            throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely, "The upstream socket closed under the send.", ex);
        }
    }

    /// <summary>Waits for the next event; null when the socket ended (the reason is in <see cref="CloseReason"/>).</summary>
    // Its state machine is reused from a pool when a finished one is free on the thread or core: with 64 turns in flight only ~1 in 8 is.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamEvent?> ReadAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (_events.TryRead(out var ready)) return ready;
        cancellationToken.ThrowIfCancellationRequested();
        var next = _events.WaitAsync(timeout);
        if (next.IsCompleted) return next.Result;
        try
        {
            using (cancellationToken.UnsafeRegister(static events => ((UpstreamInbox)events!).Cancel(), _events))
                return await next.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>
    /// The first event of a new request: <c>response.created</c> or an error. Frames of an earlier response still in the
    /// pipe (a trailing delta after an error) are dropped: they must never become another turn's events.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<UpstreamEvent?> ReadFirstAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + timeout;
        while (true)
        {
            var remaining = deadline - _time.GetUtcNow();
            if (remaining <= TimeSpan.Zero) throw new TimeoutException("The upstream sent nothing within " + timeout + ".");
            var next = await ReadAsync(remaining, cancellationToken).ConfigureAwait(false);
            if (next is not { } e || e.Type is EventTypes.Created or EventTypes.Error) return next;
            StrayFrames++;
        }
    }

    /// <summary>Frames dropped because they belonged to no request in flight.</summary>
    public int StrayFrames { get; private set; }

    public string? CloseReason { get; private set; }

    private void Acknowledge()
    {
        if (Interlocked.Exchange(ref _awaitingAck, 0) == 1) _ackGate.Release();
    }

    /// <summary>The read buffer the loop holds: none while it waits for the next burst, a pooled one while it reads a frame.</summary>
    internal int ReadBufferCapacity => _socket.ReadBufferCapacity;

    private readonly List<UpstreamEvent> _burst = []; // the read loop's own

    private void Take(byte[] data)
    {
        var type = EventReader.ReadType(data) ?? "unknown";
        if (type == ProviderUsage.RateLimitsEvent)
        {
            Usage = ProviderUsage.FromEvent(data, LastActivity) ?? Usage;
            return;
        }
        if (type is EventTypes.Created or EventTypes.Error) Acknowledge();
        _burst.Add(new UpstreamEvent(type, data));
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                var receive = _socket.ReceiveAsync();
                var waited = !receive.IsCompleted;
                if (await receive.ConfigureAwait(false) is not { } data)
                {
                    CloseReason ??= $"closed by upstream ({_socket.CloseStatus})"; // or the reply to our own close
                    break;
                }
                // Dated once per burst (the frame the loop waited for), not per event: the rest of a burst comes within
                // microseconds, and a clock read per relayed event was a measurable share of a long answer's cost here.
                if (waited) LastActivity = _time.GetUtcNow();
                // Every whole frame the same socket read brought goes to the turn at once: one lock of the inbox per burst,
                // not one per event against the reader taking the same lock.
                Take(data);
                while (_socket.TryReceiveBuffered(out var buffered)) Take(buffered);
                _events.Write(_burst);
                _burst.Clear();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // A close of ours named its reason before it began; a provider that broke the protocol is named as such.
            CloseReason ??= ex is WebSocketException { WebSocketErrorCode: WebSocketError.Faulted } ? ex.Message : "connection lost";
        }
        finally
        {
            _events.Complete();
            Acknowledge();
        }
    }

    public async ValueTask DisposeAsync()
    {
        CloseReason ??= "closed by bridge";
        await _close.Value.ConfigureAwait(false);
    }

    /// <summary>
    /// A websocket close as RFC 6455 asks of a client: our close frame, then the provider's reply read by the read loop
    /// (frames still streaming before it are dropped with the loop's channel), then the connection is cut. Aborting right
    /// after our frame made the provider see a reset instead of a close. A provider that does not answer within
    /// <see cref="CloseTimeout"/> is cut off all the same.
    /// </summary>
    private async Task CloseAsync()
    {
        using var timeout = new CancellationTokenSource(CloseTimeout);
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", timeout.Token).ConfigureAwait(false);
                await _readLoop.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The socket is going away either way.
        }
        _socket.Abort(); // ends the read loop's pending read if the reply never came (it has no token to cancel)
    }
}

/// <summary>The handshake failed: <see cref="Status"/> is the provider's HTTP status (0 when it never answered).</summary>
public sealed class UpstreamConnectException(int status, int? retryAfterSeconds, Exception inner)
    : Exception($"Upstream handshake failed (status {status}).", inner)
{
    public int Status { get; } = status;
    public int? RetryAfterSeconds { get; } = retryAfterSeconds;

    public OpenAIError ToError() => Status == 429
        ? new OpenAIError(429, ErrorCodes.RateLimitExceeded, "The model provider is rate limiting; retry after the delay.", ErrorTypes.RateLimit)
            { RetryAfterSeconds = RetryAfterSeconds ?? 5 }
        : ProxyErrors.UpstreamUnavailable(Status == 0 ? "connection failed" : $"handshake answered {Status}", RetryAfterSeconds ?? 1);
}
