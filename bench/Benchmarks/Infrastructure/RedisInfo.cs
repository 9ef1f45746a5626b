using StackExchange.Redis;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>A Redis server's <c>INFO</c>, one section at a time.</summary>
public static class RedisInfo
{
    /// <summary>The section's lines, without its header comment and blank lines.</summary>
    public static async Task<IEnumerable<string>> LinesAsync(IServer server, string section) =>
        ((string)(await server.ExecuteAsync("INFO", section))!)
        .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => !l.StartsWith('#'));

    /// <summary>The section's <c>name:value</c> fields.</summary>
    public static async Task<Dictionary<string, string>> FieldsAsync(IServer server, string section)
    {
        var fields = new Dictionary<string, string>();
        foreach (var line in await LinesAsync(server, section))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) fields[line[..colon]] = line[(colon + 1)..];
        }
        return fields;
    }
}
