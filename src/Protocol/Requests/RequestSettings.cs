namespace CodexLb.Protocol.Requests;

/// <summary>Reads one value back out of a request's raw settings (<c>"name":value</c> pairs without braces).</summary>
public static class RequestSettings
{
    public static string? ReadString(ReadOnlySpan<byte> settings, string name)
    {
        var wrapped = new byte[settings.Length + 2];
        wrapped[0] = (byte)'{';
        settings.CopyTo(wrapped.AsSpan(1));
        wrapped[^1] = (byte)'}';
        return Events.EventReader.ReadString(wrapped, name);
    }
}
