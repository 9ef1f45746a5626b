using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace CodexLb.Tests.Security;

/// <summary>One fuzz case: what was done to which sample, the bytes to send, and (for websockets) the frame type.</summary>
public sealed record FuzzCase(int Index, string Mutation, string Sample, byte[] Body, WebSocketMessageType FrameType = WebSocketMessageType.Text)
{
    public override string ToString() => $"#{Index} {Mutation} of {Sample} ({FrameType}, {Body.Length} bytes): {HostileClient.Shorten(Encoding.UTF8.GetString(Body))}";
}

/// <summary>
/// Mutates real Codex CLI wire samples the ways a broken or hostile client would: byte flips, truncation, invalid UTF-8,
/// lone surrogate escapes, fields of the wrong type, huge numbers, deep nesting, duplicate keys; and makes random
/// websocket frames. Deterministic for a given <see cref="Random"/>.
/// </summary>
/// <param name="listField">the request's list of items (<c>input</c> for Responses, <c>messages</c> for Chat Completions).</param>
/// <param name="fields">the top-level fields whose types mutations swap (<see cref="ResponsesFields"/> unless given).</param>
public sealed class WireMutator(IReadOnlyList<(string Name, byte[] Body)> samples, string listField = "input", string[]? fields = null)
{
    private readonly string[] _fields = fields ?? ResponsesFields;
    private readonly string _listField = listField;

    public static string SampleDirectory => Path.Combine(AppContext.BaseDirectory, "Security", "Samples");

    /// <summary>The <c>body</c> of each capture, compact, with the websocket ones as <c>response.create</c> frames.</summary>
    public static IReadOnlyList<(string Name, byte[] Body)> Load(string prefix) =>
    [
        .. Directory.GetFiles(SampleDirectory, prefix + "*.json").Order().Select(path =>
        {
            using var capture = JsonDocument.Parse(File.ReadAllBytes(path));
            return (Path.GetFileName(path), JsonSerializer.SerializeToUtf8Bytes(capture.RootElement.GetProperty("body")));
        }),
    ];

    private static readonly byte[][] BadUtf8 =
        [[0xFF], [0xFE], [0x80], [0xBF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82], [0xC3]];

    private static readonly string[] LoneSurrogates = [@"\ud800", @"\udc00", @"\udbff", @"\udfff", @"\ud83d", @"\ude00\ud83d", @"\ud800\u0041", @"\uD800\uD800"];

    public static readonly string[] ResponsesFields = ["model", "input", "previous_response_id", "stream", "type", "generate", "tools", "prompt_cache_key", "store", "include", "reasoning", "tool_choice", "instructions"];

    private static readonly string[] Huge =
        ["1e999999", "-1e999999", "123456789012345678901234567890123456789", "1.7976931348623157e309", "9223372036854775808", "-0", "0.000000000000000000000000000000000001e-99999", "4e-400"];

    private static readonly string[] FrameTypes = ["response.create", "response.cancel", "foo", "", "response.created", "session.update", "RESPONSE.CREATE", "response.create "];

    private delegate byte[] Mutation(Random random, byte[] body, WireMutator mutator);

    private static readonly (string Name, Mutation Apply)[] Mutations =
    [
        ("byte-flip", (r, b, _) => FlipBytes(r, b)),
        ("truncate", (r, b, _) => b[..r.Next(0, b.Length)]),
        ("invalid-utf8", (r, b, _) => InsertInString(r, b, BadUtf8[r.Next(BadUtf8.Length)])),
        ("lone-surrogate", (r, b, _) => InsertInString(r, b, Encoding.UTF8.GetBytes(LoneSurrogates[r.Next(LoneSurrogates.Length)]))),
        ("type-swap", (r, b, m) => SwapType(r, b, m._fields)),
        ("item-type-swap", (r, b, m) => SwapItemType(r, b, m._listField)),
        ("huge-number", (r, b, m) => InsertField(b, m._fields[r.Next(m._fields.Length)], Huge[r.Next(Huge.Length)])),
        ("deep-nesting", (r, b, m) => Nest(r, b, m._fields, m._listField)),
        ("duplicate-key", (r, b, m) => Duplicate(r, b, m._listField)),
    ];

    /// <summary>A mutated sample (1 to 3 mutations; now and then none, so real turns run between the broken ones).</summary>
    public FuzzCase Next(Random random, int index, bool frame)
    {
        var (name, body) = samples[random.Next(samples.Count)];
        var type = frame && random.Next(4) == 0 ? WebSocketMessageType.Binary : WebSocketMessageType.Text;
        if (frame && random.Next(10) == 0) return RandomFrame(random, index, type);
        if (random.Next(25) == 0) return new FuzzCase(index, "none", name, body, type);
        var applied = new List<string>();
        for (int i = 0, n = random.Next(8) == 0 ? random.Next(2, 4) : 1; i < n; i++)
        {
            var (mutation, apply) = Mutations[random.Next(Mutations.Length)];
            try
            {
                body = apply(random, body, this);
                applied.Add(mutation);
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
            {
                applied.Add(mutation + "(n/a)"); // a DOM mutation of a body an earlier one broke (e.g. duplicate keys)
            }
        }
        return new FuzzCase(index, string.Join("+", applied), name, body, type);
    }

    private static FuzzCase RandomFrame(Random random, int index, WebSocketMessageType type)
    {
        if (random.Next(2) == 0)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            return new FuzzCase(index, "random-bytes", "-", bytes, type);
        }
        var frame = new JsonObject();
        if (random.Next(6) != 0) frame["type"] = RandomValue(random, FrameTypes[random.Next(FrameTypes.Length)]);
        foreach (var field in ResponsesFields.Where(_ => random.Next(3) == 0)) frame[field] = RandomValue(random, null);
        return new FuzzCase(index, "random-frame", "-", Encoding.UTF8.GetBytes(frame.ToJsonString()), type);
    }

    /// <summary>A value of a random JSON type (the given string now and then).</summary>
    private static JsonNode? RandomValue(Random random, string? preferred) => random.Next(preferred is null ? 9 : 12) switch
    {
        0 => new JsonObject { ["a"] = 1, ["type"] = "message" },
        1 => new JsonObject(),
        2 => random.Next(-1000, 1000),
        3 => random.NextDouble() * 1e300,
        4 => new JsonArray(),
        5 => new JsonArray(1, "x", new JsonObject { ["type"] = "message", ["role"] = "user", ["content"] = "hi" }),
        6 => null,
        7 => random.Next(2) == 0,
        8 => new string('z', random.Next(0, 40)),
        _ => preferred,
    };

    private static byte[] FlipBytes(Random random, byte[] body)
    {
        var copy = (byte[])body.Clone();
        if (copy.Length == 0) return copy;
        for (int i = 0, n = random.Next(1, 9); i < n; i++) copy[random.Next(copy.Length)] ^= (byte)random.Next(1, 256);
        return copy;
    }

    /// <summary>Inserts bytes after a random letter: most letters of a create body are inside strings.</summary>
    private static byte[] InsertInString(Random random, byte[] body, byte[] insert)
    {
        var at = random.Next(body.Length);
        for (var i = 0; i < body.Length && !IsLetter(body[at]); i++) at = (at + 1) % body.Length;
        at++;
        return [.. body[..at], .. insert, .. body[at..]];
    }

    private static bool IsLetter(byte b) => b is >= (byte)'a' and <= (byte)'z' or >= (byte)'A' and <= (byte)'Z';

    /// <summary><c>"name":value,</c> right after the opening brace (a duplicate when the body has that field too).</summary>
    private static byte[] InsertField(byte[] body, string name, string value)
    {
        var open = Array.IndexOf(body, (byte)'{');
        if (open < 0) return body;
        return [.. body[..(open + 1)], .. Encoding.UTF8.GetBytes($"\"{name}\":{value},"), .. body[(open + 1)..]];
    }

    private static byte[] SwapType(Random random, byte[] body, string[] fields)
    {
        if (Parse(body) is not JsonObject root) return body;
        root[fields[random.Next(fields.Length)]] = RandomValue(random, null);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    private static byte[] SwapItemType(Random random, byte[] body, string listField)
    {
        if (Parse(body) is not JsonObject root || root[listField] is not JsonArray { Count: > 0 } input) return body;
        var at = random.Next(input.Count);
        if (random.Next(3) == 0 || input[at] is not JsonObject item) input[at] = RandomValue(random, null);
        else item[new[] { "type", "role", "content", "call_id", "output", "id", "arguments" }[random.Next(7)]] = RandomValue(random, null);
        return Encoding.UTF8.GetBytes(root.ToJsonString());
    }

    /// <summary>The body as a DOM, or null when an earlier mutation already broke it.</summary>
    private static JsonNode? Parse(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or ArgumentException)
        {
            return null;
        }
    }

    private static byte[] Nest(Random random, byte[] body, string[] fields, string listField)
    {
        var depth = new[] { 16, 63, 200, 254, 255, 256, 257, 300, 5000 }[random.Next(9)];
        var nested = random.Next(2) == 0
            ? new string('[', depth) + new string(']', depth)
            : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        if (random.Next(2) == 0) return InsertField(body, fields[random.Next(fields.Length)], nested);
        // Inside an input item, where the bridge forwards the raw bytes.
        var text = Encoding.UTF8.GetString(body);
        var list = $"\"{listField}\":[";
        var at = text.IndexOf(list, StringComparison.Ordinal);
        if (at < 0) return InsertField(body, listField, nested);
        at += list.Length;
        return Encoding.UTF8.GetBytes(text[..at] + "{\"type\":\"message\",\"role\":\"user\",\"content\":" + nested + "}," + text[at..]);
    }

    private static byte[] Duplicate(Random random, byte[] body, string listField)
    {
        if (random.Next(3) == 0)
        {
            // A duplicate key inside an item.
            var text = Encoding.UTF8.GetString(body);
            var list = $"\"{listField}\":[{{";
            var at = text.IndexOf(list, StringComparison.Ordinal);
            if (at >= 0)
            {
                at += list.Length;
                return Encoding.UTF8.GetBytes(text[..at] + (random.Next(2) == 0 ? "\"type\":\"function_call_output\"," : "\"content\":\"dup\",") + text[at..]);
            }
        }
        var (name, value) = new[]
        {
            ("model", "\"gpt-5.5\""), ("model", "\"other-model\""), ("input", "[]"), ("input", "\"dup\""), ("stream", "false"), ("tools", "[]"),
            ("previous_response_id", "\"resp_dup\""), ("type", "\"response.create\""), ("type", "\"response.cancel\""), ("generate", "false"),
        }[random.Next(10)];
        return InsertField(body, name, value);
    }
}
