using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>The operator endpoints (<c>CodexLb:Admin</c>): unset token = they do not exist (404).</summary>
public sealed class AdminOptions
{
    public const string Section = "CodexLb:Admin";

    /// <summary>Bearer token of <c>GET /admin/usage</c>; a key of its own, never a client key. Compared in constant time.</summary>
    public string? Token { get; set; }
}

public sealed class AdminOptionsValidator : IValidateOptions<AdminOptions>
{
    public ValidateOptionsResult Validate(string? name, AdminOptions options) =>
        options.Token is { Length: > 0 } token && token.Trim().Length < 16
            ? ValidateOptionsResult.Fail($"{AdminOptions.Section}:Token must be at least 16 characters (or unset: no operator endpoints).")
            : ValidateOptionsResult.Success;
}
