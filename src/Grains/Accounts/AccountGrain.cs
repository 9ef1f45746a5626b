using CodexLb.Grains.Abstractions;
using CodexLb.Grains.Timing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// One upstream account, one activation cluster-wide (it stays active: a rotated refresh token lives only here). Hands out
/// credentials per connect, keeps the account's health from what conversations report, and pushes that health to the
/// pool when it changes (at once for a state change, at most once a second otherwise).
/// </summary>
public sealed partial class AccountGrain(
    AccountCatalog catalog,
    IHttpClientFactory httpClients,
    IOptions<PoolOptions> poolOptions,
    TimeProvider time,
    ILogger<AccountGrain> logger) : Grain, IAccountGrain
{
    public const string HttpClientName = "codexlb-accounts";
    private static readonly TimeSpan PushDelay = TimeSpan.FromSeconds(1);

    private readonly PoolOptions _pool = poolOptions.Value;
    private AccountOptions _account = null!;
    private AccountCredentials _credentials = null!;
    private AccountState _state;
    private DateTimeOffset? _until;
    private string? _lastError;
    private AccountUsage? _usage;
    private int _sockets, _inFlight;
    private long _turns, _inputTokens, _outputTokens;
    private bool _refreshNeeded, _dirty = true;
    private int _authFailedVersion = -1;
    private DateTimeOffset _lastPush;
    private PendingGrainFlush _push = null!;

    private string Name => this.GetPrimaryKeyString();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _account = catalog.Find(Name) ?? throw new InvalidOperationException($"No upstream account is configured with this name.");
        _credentials = new AccountCredentials(_account, httpClients.CreateClient(HttpClientName), time);
        DelayDeactivation(TimeSpan.FromDays(3650));
        _push = new PendingGrainFlush(this, PushIfDirtyAsync, PushDelay);
        _push.Arm(); // the first health, a second from now
        return Task.CompletedTask;
    }

    public async Task<AccountLease> Lease()
    {
        var now = time.GetUtcNow();
        if (_state == AccountState.ReauthRequired && (_credentials.SourceChanged() || _until <= now)) SetState(AccountState.Ready, null);
        else if (_state is AccountState.Cooling or AccountState.Exhausted && _until <= now) SetState(AccountState.Ready, null);
        // Cooling (a transient 429) and refused credentials still lease: the conversation asks the pool for a better account
        // first, and with none the provider has the last word. An exhausted account takes nothing until its reset.
        if (_state is AccountState.Exhausted) return Unavailable(now);
        try
        {
            var (token, accountId) = await _credentials.GetAsync(_pool.RefreshBefore, _refreshNeeded, CancellationToken.None);
            _refreshNeeded = false;
            return new AccountLease
            {
                Account = Name, Available = true, BaseUrl = _account.BaseUrl?.ToString(), Token = token, AccountId = accountId,
                Reason = _state == AccountState.Ready ? null : _state.ToString(),
            };
        }
        catch (CredentialsRefusedException ex)
        {
            LogReauthRequired(logger, Name, ex.Message);
            _lastError = "reauth_required";
            SetState(AccountState.ReauthRequired, now + _pool.AuthRetry);
            await PushAsync();
            return Unavailable(now);
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
        {
            // The token endpoint or the file is briefly away: a token that has not expired yet still works.
            LogCredentialsUnavailable(logger, Name, ex.GetType().Name);
            return Unavailable(now, "credentials_unavailable", 5);
        }
    }

    private AccountLease Unavailable(DateTimeOffset now, string? reason = null, int? retryAfter = null) => new()
    {
        Account = Name, Available = false, Reason = reason ?? _state.ToString(),
        RetryAfterSeconds = retryAfter ?? (_until is { } until ? (int)Math.Max(1, Math.Ceiling((until - now).TotalSeconds)) : null),
    };

    public async Task Report(AccountReport report)
    {
        var now = time.GetUtcNow();
        var before = _state;
        if (report.Usage is { } usage && (_usage is null || usage.ObservedAt >= _usage.ObservedAt)) _usage = usage;
        switch (report.Event)
        {
            case AccountEvent.SocketOpened: _sockets++; break;
            case AccountEvent.SocketClosed: _sockets = Math.Max(0, _sockets - 1); break;
            case AccountEvent.Turns:
                _inFlight = Math.Max(0, _inFlight + report.TurnsStarted - report.TurnsEnded);
                _turns += report.TurnsEnded;
                _inputTokens += report.InputTokens;
                _outputTokens += report.OutputTokens;
                break;
            case AccountEvent.RateLimited:
                _lastError = report.Code;
                Cool(AccountState.Cooling, now + TimeSpan.FromSeconds(report.RetryAfterSeconds ?? _pool.RateLimitCooldown.TotalSeconds));
                break;
            case AccountEvent.QuotaExhausted:
                _lastError = report.Code;
                Cool(AccountState.Exhausted, report.ResetsAt ?? now + (report.RetryAfterSeconds is { } s ? TimeSpan.FromSeconds(s) : _pool.QuotaCooldown));
                break;
            case AccountEvent.AuthFailed:
                _lastError = report.Code;
                Refused(now);
                break;
        }
        // A spent window with a known reset is as good as a usage_limit_reached: no new work until it resets.
        if (_state == AccountState.Ready && _usage is { RemainingFraction: <= 0 } spent && (spent.PrimaryResetsAt ?? spent.SecondaryResetsAt) is { } reset && reset > now)
            Cool(AccountState.Exhausted, reset);
        MarkDirty();
        if (_state != before || now - _lastPush >= PushDelay) await PushAsync();
    }

    public async Task<bool> CredentialsRefused()
    {
        var before = _state;
        _lastError = "auth_failed";
        var refresh = Refused(time.GetUtcNow());
        if (_state != before) await PushAsync();
        return refresh;
    }

    /// <summary>The first refusal of these credentials refreshes a ChatGPT token (it may have been revoked early); any other needs re-auth.</summary>
    private bool Refused(DateTimeOffset now)
    {
        MarkDirty();
        if (_credentials.CanRefresh && _authFailedVersion != _credentials.Version)
        {
            _authFailedVersion = _credentials.Version;
            _refreshNeeded = true;
            return true;
        }
        LogReauthRequired(logger, Name, "the provider refused its credentials");
        SetState(AccountState.ReauthRequired, now + _pool.AuthRetry);
        return false;
    }

    public Task<AccountHealth> GetHealth() => Task.FromResult(Health());

    private void Cool(AccountState state, DateTimeOffset until)
    {
        // Several conversations report the same limit: the latest reset wins, a shorter one never shortens it.
        if (_state == state && _until is { } current && current > until) until = current;
        if (_state != AccountState.ReauthRequired) SetState(state, until);
    }

    private void SetState(AccountState state, DateTimeOffset? until)
    {
        if (_state != state) AccountMetrics.StateChanges.Add(1, new KeyValuePair<string, object?>("state", state.ToString().ToLowerInvariant()));
        _state = state;
        _until = until;
        MarkDirty();
    }

    /// <summary>The pool hears of it within <see cref="PushDelay"/>: at once from a state change, else from the pending push.</summary>
    private void MarkDirty()
    {
        _dirty = true;
        _push.Arm();
    }

    private AccountHealth Health() => new()
    {
        Name = Name, State = _state, CoolingUntil = _state == AccountState.Ready ? null : _until, LastError = _lastError, Weight = _account.Weight,
        Plan = _account.Plan, Kind = _credentials.Kind, Usage = _usage, OpenSockets = _sockets, InFlightTurns = _inFlight, Turns = _turns,
        InputTokens = _inputTokens, OutputTokens = _outputTokens, TokenRefreshes = _credentials.Refreshes, TokenExpiresAt = _credentials.ExpiresAt,
        UpdatedAt = time.GetUtcNow(),
    };

    private Task PushIfDirtyAsync(CancellationToken cancellationToken) => _dirty ? PushAsync() : Task.CompletedTask;

    private Task PushAsync()
    {
        _dirty = false;
        _lastPush = time.GetUtcNow();
        return GrainFactory.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key).Update(Health());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream account {Account} needs re-authentication: {Reason}")]
    private static partial void LogReauthRequired(ILogger logger, string account, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Upstream account {Account}: credentials could not be read or refreshed ({Error})")]
    private static partial void LogCredentialsUnavailable(ILogger logger, string account, string error);
}
