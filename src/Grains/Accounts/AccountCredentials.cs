using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Grains.Accounts;

/// <summary>
/// One account's current credentials. Files (an API key Secret, a Codex CLI <c>auth.json</c>) are re-read when their
/// timestamp or size changes, so a rotated Secret is used at the next connect without a restart. ChatGPT access tokens
/// are refreshed at the account's token URL shortly before they expire (their JWT <c>exp</c>, or the refresh answer's
/// <c>expires_in</c>), and at once after the provider refused them. Holds secrets: nothing here is ever logged.
/// </summary>
internal sealed class AccountCredentials(AccountOptions account, HttpClient http, TimeProvider time)
{
    private string? _token = account.ApiKey ?? account.AccessToken;
    private string? _refreshToken = account.RefreshToken;
    private string? _accountId = account.AccountId;
    private (DateTime, long) _fileStamp;
    private bool _loaded;

    /// <summary>Changes whenever the credential source changed (a file was rewritten, a token refreshed).</summary>
    public int Version { get; private set; }

    public DateTimeOffset? ExpiresAt { get; private set; }

    public long Refreshes { get; private set; }

    public bool CanRefresh => _refreshToken is not null;

    public string Kind => account.IsChatGpt ? "chatgpt" : "api_key";

    /// <summary>True when the credential file changed since it was last read.</summary>
    public bool SourceChanged() => CredentialFile is { } path && Stamp(path) != _fileStamp;

    private string? CredentialFile => account.ApiKeyFile ?? account.AuthFile;

    /// <summary>The bearer token and account id to connect with, refreshing first when due (or when <paramref name="forceRefresh"/>).</summary>
    /// <exception cref="CredentialsRefusedException">The token endpoint refused the refresh token: re-auth is needed.</exception>
    public async Task<(string? Token, string? AccountId)> GetAsync(TimeSpan refreshBefore, bool forceRefresh, CancellationToken cancellationToken)
    {
        if (!_loaded || SourceChanged()) await LoadAsync(cancellationToken);
        var due = ExpiresAt is { } expires && expires - time.GetUtcNow() <= refreshBefore;
        if (_refreshToken is not null && (forceRefresh || due)) await RefreshAsync(cancellationToken);
        return (_token, _accountId);
    }

    private async Task LoadAsync(CancellationToken cancellationToken)
    {
        _loaded = true;
        if (CredentialFile is not { } path)
        {
            ExpiresAt = Jwt.Expiry(_token);
            return;
        }
        var stamp = Stamp(path);
        var text = await File.ReadAllTextAsync(path, cancellationToken);
        if (account.ApiKeyFile is not null) _token = text.Trim();
        else ReadAuthJson(text);
        _fileStamp = stamp;
        ExpiresAt = Jwt.Expiry(_token);
        Version++;
    }

    /// <summary>A Codex CLI <c>auth.json</c>: <c>{"OPENAI_API_KEY":…,"tokens":{"id_token","access_token","refresh_token","account_id"},"last_refresh"}</c>.</summary>
    private void ReadAuthJson(string text)
    {
        try
        {
            var root = JsonNode.Parse(text);
            var tokens = root?["tokens"];
            if (tokens?["access_token"]?.GetValue<string>() is { Length: > 0 } access)
            {
                _token = access;
                _refreshToken = tokens["refresh_token"]?.GetValue<string>() ?? _refreshToken;
                _accountId = tokens["account_id"]?.GetValue<string>() ?? account.AccountId;
            }
            else if (root?["OPENAI_API_KEY"]?.GetValue<string>() is { Length: > 0 } apiKey)
            {
                _token = apiKey;
                _refreshToken = null;
            }
            else throw new CredentialsRefusedException("the auth file holds no tokens.access_token and no OPENAI_API_KEY");
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            throw new CredentialsRefusedException("the auth file is not a Codex CLI auth.json");
        }
    }

    /// <summary>The OAuth refresh the Codex CLI itself does: POST {client_id, grant_type: refresh_token, refresh_token, scope}.</summary>
    private async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var body = new JsonObject
        {
            ["client_id"] = account.ClientId, ["grant_type"] = "refresh_token", ["refresh_token"] = _refreshToken, ["scope"] = "openid profile email",
        };
        using var response = await http.PostAsync(account.TokenUrl, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), cancellationToken);
        if ((int)response.StatusCode is >= 400 and < 500)
            throw new CredentialsRefusedException($"the token endpoint refused the refresh token (HTTP {(int)response.StatusCode})");
        response.EnsureSuccessStatusCode();
        var answer = await response.Content.ReadFromJsonAsync<JsonObject>(cancellationToken)
            ?? throw new CredentialsRefusedException("the token endpoint answered no JSON object");
        _token = answer["access_token"]?.GetValue<string>() ?? throw new CredentialsRefusedException("the token endpoint answered no access_token");
        _refreshToken = answer["refresh_token"]?.GetValue<string>() ?? _refreshToken; // refresh tokens rotate
        ExpiresAt = answer["expires_in"] is { } expiresIn ? time.GetUtcNow().AddSeconds(expiresIn.GetValue<double>()) : Jwt.Expiry(_token);
        Refreshes++;
        Version++;
    }

    private static (DateTime, long) Stamp(string path)
    {
        var info = new FileInfo(path);
        return info.Exists ? (info.LastWriteTimeUtc, info.Length) : default;
    }
}

/// <summary>The account's credentials cannot be used (a refused refresh, an unreadable auth file): it needs re-auth.</summary>
internal sealed class CredentialsRefusedException(string reason) : Exception(reason);

/// <summary>The <c>exp</c> claim of a JWT access token, without validating it (the provider does that).</summary>
internal static class Jwt
{
    public static DateTimeOffset? Expiry(string? token)
    {
        var parts = token?.Split('.');
        if (parts is not { Length: 3 }) return null;
        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + (4 - payload.Length % 4) % 4, '=');
            var claims = JsonNode.Parse(Convert.FromBase64String(payload));
            return claims?["exp"] is JsonValue exp && exp.TryGetValue<long>(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or InvalidOperationException)
        {
            return null;
        }
    }
}
