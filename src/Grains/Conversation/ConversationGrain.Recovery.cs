using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Responses;
using Microsoft.Extensions.Logging;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// A background response whose owner was lost mid-generation runs again here, under the id its client has: nobody follows
/// a background response, so no client's retry would ever run it again, and a poll of a response that never ends is a
/// response lost. The first call that asks for it (a retrieve, a replay, a turn chaining on it) starts the new run.
/// </summary>
public sealed partial class ConversationGrain
{
    /// <summary>How many times one response runs again at most: one that keeps losing its owner then ends failed.</summary>
    private const int MaxResumes = 3;

    /// <summary>
    /// How long new runs may keep being refused before the provider is asked (no upstream capacity, no usable account, a
    /// full conversation) before the response ends failed. Such a run costs nothing, so it does not count against
    /// <see cref="MaxResumes"/>: a rate limit of a minute must not use up a response's runs in three polls.
    /// </summary>
    private static readonly TimeSpan RefusalPatience = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, Task<byte[]?>> _recoveries = new(StringComparer.Ordinal); // one per response, while it starts

    public async Task<byte[]?> RecoverResponse(string responseId, bool cancel)
    {
        if (RunningByResponse(responseId) is { } running)
            return cancel ? (await CancelResponse(responseId))?.Body : LatestAsAsked(running);
        if (_recoveries.TryGetValue(responseId, out var started)) return await started;
        var recovery = RecoverAsync(responseId, cancel);
        _recoveries[responseId] = recovery;
        try
        {
            return await recovery;
        }
        finally
        {
            _recoveries.Remove(responseId);
        }
    }

    private async Task<byte[]?> RecoverAsync(string responseId, bool cancel)
    {
        if (_deactivating) throw new OwnerDeactivatingException();
        var saved = await store.LoadResumableAsync(ConversationKey.TenantOf(Key), responseId, CancellationToken.None);
        if (saved is null) return null;
        var resumable = resumables.Deserialize(saved)!;
        var refusedTooLong = resumable.RefusedSince is { } since && time.GetUtcNow() - since > RefusalPatience;
        if (cancel || resumable.Resumes >= MaxResumes || refusedTooLong)
        {
            // Cancelled while nothing ran it: it ends here, the provider is not asked again.
            var ended = cancel ? ResponseObjects.WithStatus(resumable.Created, "cancelled")
                : ResponseObjects.AsFailed(resumable.Created, ErrorCodes.OwnerUnreachable,
                    (refusedTooLong ? ProxyErrors.ResponseNotRunAgain() : ProxyErrors.ResponseInterrupted()).Message);
            await store.SettleAsync(Key, responseId, ended, CancellationToken.None);
            return cancel ? ended : null;
        }
        if (activeTurns.Draining) throw MoveForDrain();
        if (_fencedTurn is not null) throw StepAside();
        if (_deactivating) throw new OwnerDeactivatingException(); // it began going away during the read
        if (!_queue.TryAdmit())
        {
            await NoteRefusalAsync(responseId, resumable); // the conversation is full: the next call asks again
            return resumable.Created;
        }
        var request = resumable.Request with
        {
            TurnId = "resume:" + Guid.NewGuid().ToString("N"), ReplayFrom = 0, AttachOnly = false, Redispatched = false,
        };
        var turn = new RunningTurn(request.TurnId, fingerprint: 0)
        {
            Background = true, ResponseId = responseId,
            Resumed = new ResumedResponse(resumable.Created, (resumable.Resumes + 1) * ResumedResponse.SequenceGap) { Before = resumable },
        };
        _turns[request.TurnId] = turn;
        turn.Execution = RunAdmittedAsync(request, turn, "resume");
        LogResumed(logger, Key, resumable.Resumes + 1);
        return LatestAsAsked(turn);
    }

    /// <summary>
    /// Starts a lost background response's new run for a turn chaining on it, which is refused meanwhile (it holds the
    /// conversation's queue the new run waits for). True when the response runs again here; false when it will not (not a
    /// background one, run again too often, or this activation is going away: the turn's retry finds it elsewhere).
    /// </summary>
    private async Task<bool> TryRecoverAsync(string responseId)
    {
        try
        {
            return await RecoverResponse(responseId, cancel: false) is not null;
        }
        catch (Exception ex)
        {
            LogRecoveryFailed(logger, ex, Key);
            return false;
        }
    }

    /// <summary>
    /// A new run counts once it asks the provider (<see cref="RunningTurn.Sent"/>): written just before its request goes,
    /// so the conversation's next owner counts it if this one is lost meanwhile. Refusals before it are forgotten.
    /// </summary>
    private Task CountRunAsync(RunningTurn turn)
    {
        var before = turn.Resumed!.Before!;
        return store.MarkResumableAsync(Key, turn.ResponseId!, Resumable(before with { Resumes = before.Resumes + 1, RefusedSince = null }), CancellationToken.None);
    }

    /// <summary>
    /// A new run refused before it asked the provider: not counted, but the first such refusal starts
    /// <see cref="RefusalPatience"/>. Never throws (it runs as a turn ends): a note the store did not take leaves the
    /// refusals untimed, and the response pending as it was.
    /// </summary>
    private async Task NoteRefusalAsync(string responseId, ResumableResponse before)
    {
        if (before.RefusedSince is not null) return;
        try
        {
            await store.MarkResumableAsync(Key, responseId, Resumable(before with { RefusedSince = time.GetUtcNow() }), CancellationToken.None);
        }
        catch (Exception ex)
        {
            LogRefusalNotNoted(logger, ex, Key);
        }
    }

    /// <summary>What the store keeps to run a background response again.</summary>
    private byte[] Resumable(ResumableResponse resumable) => resumables.SerializeToArray(resumable);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: a background response lost with its owner runs again (run {Run})")]
    private static partial void LogResumed(ILogger logger, string conversation, int run);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: a refused new run of a lost background response was not noted in the store")]
    private static partial void LogRefusalNotNoted(ILogger logger, Exception ex, string conversation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Conversation {Conversation}: a background response lost with its owner could not be run again")]
    private static partial void LogRecoveryFailed(ILogger logger, Exception ex, string conversation);
}
