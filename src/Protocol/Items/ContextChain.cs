namespace CodexLb.Protocol.Items;

/// <summary>
/// A rolling hash over a context's item fingerprints: the chain of a context is what a response tree node is indexed
/// by, so a client that resends a history we already hold is found by its content. Reasoning items do not advance the
/// chain: SDKs drop them (or resend them re-encoded) when they echo history, while the provider keeps them anyway.
/// </summary>
public static class ContextChain
{
    /// <summary>The chain of an empty context.</summary>
    public const ulong Empty = 0x6A09E667F3BCC908;

    public static ulong Next(ulong chain, ulong fingerprint) =>
        fingerprint == ItemFingerprint.Reasoning ? chain : Mix(chain, fingerprint);

    public static ulong Extend(ulong chain, ReadOnlySpan<ulong> fingerprints)
    {
        foreach (var fingerprint in fingerprints) chain = Next(chain, fingerprint);
        return chain;
    }

    /// <summary>Element k-1 is the chain of the first k fingerprints, continuing from <paramref name="start"/>.</summary>
    public static ulong[] Prefixes(ReadOnlySpan<ulong> fingerprints, ulong start = Empty)
    {
        var result = new ulong[fingerprints.Length];
        for (var i = 0; i < result.Length; i++) result[i] = start = Next(start, fingerprints[i]);
        return result;
    }

    private static ulong Mix(ulong chain, ulong fingerprint)
    {
        var h = (chain ^ fingerprint) * 0x9E3779B97F4A7C15;
        h ^= h >> 32;
        h *= 0xD6E8FEB86659FD93;
        return h ^ (h >> 29) ^ fingerprint;
    }
}
