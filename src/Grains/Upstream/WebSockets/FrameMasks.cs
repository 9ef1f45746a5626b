using System.Security.Cryptography;

namespace CodexLb.Grains.Upstream.WebSockets;

/// <summary>
/// The 4-byte masks a client puts on every frame (RFC 6455 5.3: unpredictable, from a strong source of entropy), taken
/// from a per-thread block of cryptographically random bytes. One <see cref="RandomNumberGenerator.Fill"/> call costs
/// ~2 µs here whatever its size (OpenSSL's per-call work), and the framework's websocket made one per frame.
/// </summary>
internal static class FrameMasks
{
    private const int BlockBytes = 1024; // 256 masks per refill

    [ThreadStatic] private static byte[]? t_block;
    [ThreadStatic] private static int t_next;

    public static uint Next()
    {
        var block = t_block;
        var next = t_next;
        if (block is null || next == BlockBytes)
        {
            block = t_block ??= new byte[BlockBytes];
            RandomNumberGenerator.Fill(block);
            next = 0;
        }
        t_next = next + 4;
        return BitConverter.ToUInt32(block, next);
    }
}
