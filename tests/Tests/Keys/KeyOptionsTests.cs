using System.Security.Cryptography;
using System.Text;
using CodexLb.Gateway.Keys;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;

namespace CodexLb.Tests.Keys;

/// <summary>Key entries are validated without quoting a key; every source of a key hashes to the same bytes; refusals are shaped as OpenAI's.</summary>
public sealed class KeyOptionsTests
{
    private const string Secret = "sk-very-secret-client-key";

    private static string[] Failures(params ClientKeyOptions[] keys)
    {
        var result = new KeysOptionsValidator().Validate(null, new KeysOptions { Keys = [.. keys] });
        return result.Failed ? [.. result.Failures!] : [];
    }

    [Fact]
    public void Each_entry_needs_a_name_and_exactly_one_source_and_failures_never_quote_the_key()
    {
        Assert.Empty(Failures(new ClientKeyOptions { Name = "alice", Key = Secret, RequestsPerMinute = 10, Models = ["gpt-5.5"] }));
        var failures = Failures(
            new ClientKeyOptions { Name = "", Key = Secret },
            new ClientKeyOptions { Name = "bob", Key = Secret, KeyHash = new string('a', 64) },
            new ClientKeyOptions { Name = "BOB", KeyHash = "sha256:zz" },
            new ClientKeyOptions { Name = "carol", Key = "short" },
            new ClientKeyOptions { Name = "dave", KeyFile = "/nonexistent/codexlb-key" },
            new ClientKeyOptions { Name = "erin", Key = Secret, TokensPerDay = -1 });
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:0:Name"));
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:1 needs exactly one"));
        Assert.Contains(failures, f => f.Contains("'BOB' is used by another key"));
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:2:KeyHash"));
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:3:Key must be at least 8"));
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:4:KeyFile") && f.Contains("cannot be read"));
        Assert.Contains(failures, f => f.Contains("CodexLb:Keys:5") && f.Contains("negative"));
        Assert.DoesNotContain(failures, f => f.Contains(Secret) || f.Contains("short"));
    }

    [Fact]
    public void A_key_its_hash_and_a_file_holding_either_are_the_same_key()
    {
        var expected = SHA256.HashData(Encoding.UTF8.GetBytes(Secret));
        var hex = Convert.ToHexStringLower(expected);
        Assert.Equal(expected, KeyMaterial.Hash(Secret));
        Assert.Equal(expected, KeyMaterial.ParseHash(hex));
        Assert.Equal(expected, KeyMaterial.ParseHash("sha256:" + hex.ToUpperInvariant()));
        Assert.Null(KeyMaterial.ParseHash(hex[..60]));

        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, Secret + "\n");                   // as `echo key > file` writes it
            Assert.Equal(expected, KeyMaterial.ReadFile(file).Hash);
            File.WriteAllText(file, "sha256:" + hex + "\n");
            Assert.Equal(expected, KeyMaterial.ReadFile(file).Hash);
            File.WriteAllText(file, "  \n");
            Assert.Contains("empty", KeyMaterial.ReadFile(file).Error);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void A_named_keys_tenant_follows_its_name_not_its_key()
    {
        Assert.Equal(KeyMaterial.TenantOfName("Alice"), KeyMaterial.TenantOfName("alice"));
        Assert.NotEqual(KeyMaterial.TenantOfName("alice"), KeyMaterial.TenantOfName("bob"));
        Assert.Matches("^[0-9a-f]{16}$", KeyMaterial.TenantOfName("alice"));
    }

    [Fact]
    public void Refusals_are_429_with_retry_after_rate_limit_or_insufficient_quota_and_a_model_off_the_list_is_404()
    {
        var key = new ClientKey("alice", "t", new KeyLimits(300, 10_000, 1_000_000), ["gpt-5.5"]);

        var rpm = KeyErrors.Refused(key, new KeyAdmission(KeyLimit.RequestsPerMinute, 12));
        Assert.Equal((429, "rate_limit_exceeded", ErrorTypes.RateLimit, 12), (rpm.Status, rpm.Code, rpm.Type, rpm.RetryAfterSeconds));
        Assert.Contains("requests per min", rpm.Message);
        var tpm = KeyErrors.Refused(key, new KeyAdmission(KeyLimit.TokensPerMinute, 0));
        Assert.Equal((429, "rate_limit_exceeded", 1), (tpm.Status, tpm.Code, tpm.RetryAfterSeconds)); // never "retry in 0 s"
        Assert.Contains("tokens per min", tpm.Message);
        var day = KeyErrors.Refused(key, new KeyAdmission(KeyLimit.TokensPerDay, 3600));
        Assert.Equal((429, "insufficient_quota", "insufficient_quota", 3600), (day.Status, day.Code, day.Type, day.RetryAfterSeconds));

        var model = KeyErrors.ModelNotAllowed(key, "gpt-5.4");
        Assert.Equal((404, "model_not_found", "model"), (model.Status, model.Code, model.Param));
        Assert.Contains("may not use it", model.Message);
        Assert.True(key.Allows("gpt-5.5"));
        Assert.False(key.Allows("gpt-5.4"));
        Assert.False(key.Allows(null));
        Assert.True(ClientKey.Anonymous.Allows(null));
    }
}
