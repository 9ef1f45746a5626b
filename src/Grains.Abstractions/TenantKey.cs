using System.IO.Hashing;
using System.Text;

namespace CodexLb.Grains.Abstractions;

/// <summary>
/// A name within a tenant (a response id, an output item id) as a 128-bit hash of <c>{tenant}/{name}</c> in UTF-8: a
/// dictionary key that holds no string (the memory store's nodes, a gateway's alias cache). A tenant never contains '/', so
/// no two pairs hash the same input; a store keyed by it still checks the name where it can (a collision then reads as
/// absent), and a cache accepts the 2^-128 chance.
/// </summary>
public readonly record struct TenantKey(UInt128 Hash)
{
    private const int StackBytes = 512;

    public static TenantKey Of(ReadOnlySpan<char> tenant, ReadOnlySpan<char> name)
    {
        var max = Encoding.UTF8.GetMaxByteCount(tenant.Length) + Encoding.UTF8.GetMaxByteCount(name.Length);
        var utf8 = max <= StackBytes ? stackalloc byte[StackBytes] : new byte[max];
        var tenantLength = Encoding.UTF8.GetBytes(tenant, utf8);
        var nameLength = Encoding.UTF8.GetBytes(name, utf8[tenantLength..]);
        return Of(utf8[..tenantLength], utf8.Slice(tenantLength, nameLength));
    }

    public static TenantKey Of(ReadOnlySpan<byte> tenantUtf8, ReadOnlySpan<byte> nameUtf8)
    {
        var length = tenantUtf8.Length + 1 + nameUtf8.Length;
        var joined = length <= StackBytes ? stackalloc byte[StackBytes] : new byte[length];
        tenantUtf8.CopyTo(joined);
        joined[tenantUtf8.Length] = (byte)'/';
        nameUtf8.CopyTo(joined[(tenantUtf8.Length + 1)..]);
        return new TenantKey(XxHash128.HashToUInt128(joined[..length]));
    }
}
