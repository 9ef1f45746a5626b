using System.Text.Json.Nodes;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// The upstream accounts' health in <c>GET /admin/usage</c>, next to the keys: state, cooldown, usage windows, sockets and
/// turns per account, as the pool sees it. Never a credential (the pool's records hold none).
/// </summary>
public sealed class AccountsUsageSection(IGrainFactory grains) : IOperatorUsageSection
{
    public string Name => "accounts";

    public async Task<JsonNode?> ReadAsync(CancellationToken cancellationToken)
    {
        var health = await grains.GetGrain<IAccountPoolGrain>(IAccountPoolGrain.Key).GetHealth().WaitAsync(cancellationToken);
        return new JsonArray([.. health.Select(Account)]);
    }

    private static JsonNode Account(AccountHealth a) => new JsonObject
    {
        ["name"] = a.Name,
        ["kind"] = a.Kind,
        ["plan"] = a.Plan,
        ["state"] = a.State.ToString().ToLowerInvariant(),
        ["cooling_until"] = a.CoolingUntil?.ToUnixTimeSeconds(),
        ["last_error"] = a.LastError,
        ["weight"] = a.Weight,
        ["capacity"] = a.Capacity,
        ["open_sockets"] = a.OpenSockets,
        ["in_flight_turns"] = a.InFlightTurns,
        ["turns"] = a.Turns,
        ["input_tokens"] = a.InputTokens,
        ["output_tokens"] = a.OutputTokens,
        ["token_refreshes"] = a.TokenRefreshes,
        ["token_expires_at"] = a.TokenExpiresAt?.ToUnixTimeSeconds(),
        ["usage"] = a.Usage is not { } u ? null : new JsonObject
        {
            ["primary_used_percent"] = u.PrimaryUsedPercent,
            ["primary_window_minutes"] = u.PrimaryWindowMinutes,
            ["primary_resets_at"] = u.PrimaryResetsAt?.ToUnixTimeSeconds(),
            ["secondary_used_percent"] = u.SecondaryUsedPercent,
            ["secondary_window_minutes"] = u.SecondaryWindowMinutes,
            ["secondary_resets_at"] = u.SecondaryResetsAt?.ToUnixTimeSeconds(),
            ["requests_remaining"] = u.RequestsRemaining,
            ["tokens_remaining"] = u.TokensRemaining,
        },
        ["updated_at"] = a.UpdatedAt.ToUnixTimeSeconds(),
    };
}
