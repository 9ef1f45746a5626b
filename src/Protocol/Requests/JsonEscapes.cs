namespace CodexLb.Protocol.Requests;

/// <summary>
/// Checks the <c>\uXXXX</c> escapes of a raw JSON string: a high surrogate must be followed at once by an escaped low
/// surrogate, and a low surrogate must follow a high one. <see cref="System.Text.Json.Utf8JsonReader"/> accepts a lone
/// surrogate escape while reading and only throws when the string is unescaped, so a body that is forwarded raw
/// must be checked for it.
/// </summary>
public static class JsonEscapes
{
    /// <param name="raw">A string's raw bytes between its quotes, as <c>Utf8JsonReader.ValueSpan</c> gives them.</param>
    public static bool SurrogatesArePaired(ReadOnlySpan<byte> raw)
    {
        var i = raw.IndexOf((byte)'\\');
        if (i < 0) return true;
        while (i < raw.Length)
        {
            if (raw[i] != (byte)'\\') { i++; continue; }
            if (i + 1 >= raw.Length) return false;
            if (raw[i + 1] != (byte)'u') { i += 2; continue; }
            var unit = Hex4(raw, i + 2);
            if (unit < 0) return false;
            if (unit is >= 0xDC00 and <= 0xDFFF) return false; // a low surrogate with no high one before it
            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                if (i + 7 >= raw.Length || raw[i + 6] != (byte)'\\' || raw[i + 7] != (byte)'u') return false;
                var low = Hex4(raw, i + 8);
                if (low is not (>= 0xDC00 and <= 0xDFFF)) return false;
                i += 12;
            }
            else i += 6;
            var next = raw[i..].IndexOf((byte)'\\');
            if (next < 0) return true;
            i += next;
        }
        return true;
    }

    private static int Hex4(ReadOnlySpan<byte> raw, int at)
    {
        if (at + 4 > raw.Length) return -1;
        var value = 0;
        for (var k = at; k < at + 4; k++)
        {
            var b = raw[k];
            var digit = b switch
            {
                >= (byte)'0' and <= (byte)'9' => b - '0',
                >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
                _ => -1,
            };
            if (digit < 0) return -1;
            value = (value << 4) | digit;
        }
        return value;
    }
}
