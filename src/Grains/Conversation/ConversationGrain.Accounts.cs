using CodexLb.Protocol.Events;
using System.IO.Hashing;
using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Accounts;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Items;

namespace CodexLb.Grains.Conversation;

/// <summary>
/// The conversation's upstream account: assigned by the pool on the first connect, kept while it can serve (the provider's
/// state is account-scoped), and changed only before a turn's first byte when the account is rate limited, out of quota or
/// refused our credentials. The move resends the full context, without the reasoning items another account produced
/// (their encrypted content is bound to the organisation that made it).
/// </summary>
public sealed partial class ConversationGrain
{
    private string? _account;

    /// <summary>Reasoning items (by content hash) produced on an account this conversation has left.</summary>
    private readonly HashSet<ulong> _foreignReasoning = [];

    /// <summary>The pool says this conversation moved before this activation: which account made which reasoning is unknown.</summary>
    private bool _reasoningOfUnknownOrigin;

    private IAccountPoolGrain Pool => GrainFactory.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key);

    private IAccountGrain AccountGrain(string name) => GrainFactory.GetGrain<IAccountGrain>(name);

    /// <summary>Credentials for one connect: one call to the account grain (and one to the pool on the first connect).</summary>
    private async Task<AccountLease> LeaseAsync()
    {
        if (_account is null)
        {
            var assignment = await Pool.Assign(Key, []);
            _account = assignment.Account ?? throw new AccountsUnavailableException(assignment.RetryAfterSeconds);
            _reasoningOfUnknownOrigin |= assignment.Moved;
        }
        var lease = await AccountGrain(_account).Lease();
        if (!lease.Available) throw new AccountLeaseRefusedException(lease);
        // A cooling account (or one whose credentials were refused): move now if the pool has a better one, else try it.
        if (lease.Reason is not null && (await Pool.Assign(Key, [])).Account is { } better && better != _account)
            throw new AccountLeaseRefusedException(lease);
        return lease;
    }

    /// <summary>The accounts one turn left before its first byte, and the soonest any of them said it serves again.</summary>
    private sealed class AccountAttempts
    {
        public List<string> Tried { get; } = [];
        public int? RetryAfterSeconds { get; set; }
        public bool RefreshTried { get; set; }
    }

    /// <summary>
    /// Moves the conversation to another account after <paramref name="reason"/> (the current one is reported and excluded
    /// for this turn). Null when it moved; otherwise the error the client gets (no account left, or attempts spent).
    /// </summary>
    private async Task<OpenAIError?> MoveAccountAsync(string reason, AccountFailure? failure, int? retryAfter, AccountAttempts attempts)
    {
        var from = _account!;
        if (failure is { Event: AccountEvent.AuthFailed })
        {
            // A ChatGPT token refused for the first time is refreshed at the next lease: one more try on the same account.
            if (await AccountGrain(from).CredentialsRefused() && !attempts.RefreshTried)
            {
                attempts.RefreshTried = true;
                DropSocket();
                return null;
            }
        }
        else if (failure is not null) await AccountGrain(from).Report(failure.ToReport());
        attempts.Tried.Add(from);
        attempts.RetryAfterSeconds = Sooner(attempts.RetryAfterSeconds, retryAfter);
        DropSocket();
        if (attempts.Tried.Count >= poolOptions.Value.MaxAttempts)
            return failure is { Event: not AccountEvent.AuthFailed, ClientError: var limited } && attempts.RetryAfterSeconds is { } soonest
                ? limited with { RetryAfterSeconds = Math.Max(1, soonest) } // the soonest any tried account serves again
                : failure?.ClientError ?? AccountsUnavailableException.Error(attempts.RetryAfterSeconds);
        var next = await Pool.Assign(Key, [.. attempts.Tried]);
        if (next.Account is null)
        {
            AccountMetrics.Unavailable.Add(1);
            // The accounts this turn tried said when they serve again; the pool knows the others.
            var wait = Sooner(next.RetryAfterSeconds, attempts.RetryAfterSeconds);
            return failure is { Event: AccountEvent.AuthFailed } && wait is null ? failure.ClientError : AccountsUnavailableException.Error(wait ?? 5);
        }
        AccountMetrics.Failovers.Add(1, new KeyValuePair<string, object?>("reason", reason));
        LogAccountMoved(logger, Key, from, next.Account, reason);
        _account = next.Account;
        _reasoningOfUnknownOrigin = true; // the next send (a full one: the socket went) marks the context's reasoning
        return null;
    }

    private static int? Sooner(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    /// <summary>
    /// The items of a full send: the context minus reasoning the provider cannot take back — what another account produced,
    /// and, when the provider stores nothing (<c>store:false</c>), reasoning without <c>encrypted_content</c> (a client that
    /// did not ask for it; such an item is only an id, which the provider could resolve from its store alone) and, for the
    /// same reason, an <c>item_reference</c> the plan could not replace by our own copy of the item.
    /// </summary>
    private IReadOnlyList<byte[]> FullSendItems(TurnPlan plan, bool providerStores)
    {
        if (_reasoningOfUnknownOrigin)
        {
            _reasoningOfUnknownOrigin = false;
            MarkForeign(plan);
        }
        if (_foreignReasoning.Count == 0 && providerStores) return plan.Items;
        var kept = new List<byte[]>(plan.Items.Count);
        int stripped = 0, references = 0;
        for (var i = 0; i < plan.Items.Count; i++)
        {
            if (IsReasoning(plan, i) && (_foreignReasoning.Contains(XxHash3.HashToUInt64(plan.Items[i])) || (!providerStores && !Replayable(plan.Items[i]))))
                stripped++;
            else if (!providerStores && ItemReference.TargetOf(plan.Items[i]) is not null) references++;
            else kept.Add(plan.Items[i]);
        }
        if (stripped + references == 0) return plan.Items;
        if (stripped > 0) AccountMetrics.ReasoningStripped.Add(stripped);
        return kept;
    }

    private static bool Replayable(byte[] reasoning) =>
        EventReader.TryFindRawProperty(reasoning, "encrypted_content"u8, out var found) && reasoning.AsSpan(found) is { Length: > 2 } value
        && value[0] == (byte)'"';

    private void MarkForeign(TurnPlan plan)
    {
        for (var i = 0; i < plan.Items.Count; i++)
            if (IsReasoning(plan, i)) _foreignReasoning.Add(XxHash3.HashToUInt64(plan.Items[i]));
    }

    // Views keep no per-item fingerprints (a match is decided by chains): the base's items are hashed here, on the rare full send.
    private static bool IsReasoning(TurnPlan plan, int i) =>
        (i >= plan.BaseCount ? plan.NewFingerprints[i - plan.BaseCount] : ItemFingerprint.Compute(plan.Items[i])) == ItemFingerprint.Reasoning;

    /// <summary>The silo is stopping: nothing to tell the account grains (they stop too, and a call would only log a failure).</summary>
    private bool _accountsGone;

    /// <summary>
    /// A rate limit or spent quota that arrives after the first byte: the turn cannot move any more (its client has bytes),
    /// but the account still cools down, so the next turns and new conversations go elsewhere.
    /// </summary>
    private void ReportLateAccountFailure(Upstream.UpstreamSocket socket, Upstream.UpstreamEvent failure)
    {
        if (failure.Type == EventTypes.Incomplete) return;
        if (AccountFailure.FromErrorEvent(failure.Data, time.GetUtcNow()) is { Event: AccountEvent.RateLimited or AccountEvent.QuotaExhausted } limited)
            ReportAccount(socket.Account, limited.ToReport());
    }

    private void ReportAccount(string account, AccountReport report)
    {
        if (!_accountsGone) _ = AccountGrain(account).Report(report);
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information,
        Message = "Conversation {Conversation} moved from upstream account {From} to {To} ({Reason})")]
    private static partial void LogAccountMoved(Microsoft.Extensions.Logging.ILogger logger, string conversation, string from, string to, string reason);
}
