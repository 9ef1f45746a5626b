using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;

namespace CodexLb.Grains.Upstream.WebSockets;

/// <summary>The opcodes of RFC 6455 5.2.</summary>
internal enum WebSocketOpcode : byte
{
    Continuation = 0x0,
    Text = 0x1,
    Binary = 0x2,
    Close = 0x8,
    Ping = 0x9,
    Pong = 0xA,
}

/// <summary>One frame's header as a client reads it (a server's frames are never masked).</summary>
internal readonly record struct WebSocketFrameHeader(WebSocketOpcode Opcode, bool Fin, int HeaderLength, long PayloadLength)
{
    public bool IsControl => ((byte)Opcode & 0x8) != 0;
}

/// <summary>
/// The client side of RFC 6455 framing: a server's frame header parsed from bytes already read, and a client's frame
/// written masked. No extension is ever negotiated, so the reserved bits must be clear.
/// </summary>
internal static class WebSocketFrame
{
    /// <summary>The largest header a client writes: 2 bytes, an 8-byte length and a 4-byte mask.</summary>
    public const int MaxClientHeaderLength = 14;

    /// <summary>
    /// Parses the header at the start of <paramref name="buffer"/>. False when more bytes are needed; a protocol error
    /// (a masked frame, reserved bits, an unknown opcode, a fragmented or long control frame) in <paramref name="error"/>.
    /// </summary>
    public static bool TryReadHeader(ReadOnlySpan<byte> buffer, out WebSocketFrameHeader header, out string? error)
    {
        header = default;
        error = null;
        if (buffer.Length < 2) return false;
        byte first = buffer[0], second = buffer[1];
        var fin = (first & 0x80) != 0;
        var opcode = (WebSocketOpcode)(first & 0x0F);
        long length = second & 0x7F;
        var headerLength = 2;
        if (length == 126)
        {
            if (buffer.Length < 4) return false;
            length = BinaryPrimitives.ReadUInt16BigEndian(buffer[2..]);
            headerLength = 4;
        }
        else if (length == 127)
        {
            if (buffer.Length < 10) return false;
            var wide = BinaryPrimitives.ReadUInt64BigEndian(buffer[2..]);
            if (wide > long.MaxValue) { error = "a frame length with its top bit set"; return true; }
            length = (long)wide;
            headerLength = 10;
        }
        if ((first & 0x70) != 0) error = "reserved bits set with no extension negotiated";
        else if ((second & 0x80) != 0) error = "a masked frame from the server";
        else if (opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary
                 or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong)) error = $"unknown opcode {(int)opcode}";
        else if (((byte)opcode & 0x8) != 0 && (!fin || length > 125)) error = "a fragmented or over-long control frame";
        header = new WebSocketFrameHeader(opcode, fin, headerLength, length);
        return true;
    }

    /// <summary>Writes one whole (FIN) client frame into <paramref name="destination"/>, masked; returns its length.</summary>
    public static int WriteClientFrame(Span<byte> destination, WebSocketOpcode opcode, ReadOnlySpan<byte> payload, uint mask)
    {
        destination[0] = (byte)(0x80 | (byte)opcode);
        int offset;
        if (payload.Length < 126)
        {
            destination[1] = (byte)(0x80 | payload.Length);
            offset = 2;
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            destination[1] = 0x80 | 126;
            BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)payload.Length);
            offset = 4;
        }
        else
        {
            destination[1] = 0x80 | 127;
            BinaryPrimitives.WriteUInt64BigEndian(destination[2..], (ulong)payload.Length);
            offset = 10;
        }
        MemoryMarshal.Write(destination[offset..], in mask);
        offset += 4;
        var body = destination.Slice(offset, payload.Length);
        payload.CopyTo(body);
        ApplyMask(body, mask);
        return offset + payload.Length;
    }

    /// <summary>XORs <paramref name="data"/> with the mask as written on the wire (its bytes in memory order), from offset 0.</summary>
    public static void ApplyMask(Span<byte> data, uint mask)
    {
        var i = 0;
        if (Vector.IsHardwareAccelerated && data.Length >= Vector<byte>.Count)
        {
            // Vector<byte>.Count is a multiple of 4, so the repeated mask stays aligned with the payload in every block.
            var pattern = Vector.AsVectorByte(new Vector<uint>(mask));
            var blocks = MemoryMarshal.Cast<byte, Vector<byte>>(data);
            for (var b = 0; b < blocks.Length; b++) blocks[b] ^= pattern;
            i = blocks.Length * Vector<byte>.Count;
        }
        var wide = ((ulong)mask << 32) | mask;
        for (; i + 8 <= data.Length; i += 8)
            MemoryMarshal.Write(data[i..], MemoryMarshal.Read<ulong>(data[i..]) ^ wide);
        Span<byte> bytes = stackalloc byte[4];
        MemoryMarshal.Write(bytes, in mask);
        for (; i < data.Length; i++) data[i] ^= bytes[i & 3];
    }
}
