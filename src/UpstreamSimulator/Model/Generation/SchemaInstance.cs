using System.Globalization;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Wire;

namespace CodexLb.UpstreamSimulator.Model.Generation;

/// <summary>
/// Writes a deterministic JSON instance of a JSON Schema: structured-output answers and tool-call arguments.
/// Objects get their required properties (all of them when <c>allProperties</c>, as strict mode demands), strings
/// respect formats and lengths, numbers their bounds and multipleOf, arrays minItems (at least one element) and
/// uniqueItems; enum/const win, anyOf/oneOf take the first non-null branch, allOf is merged, and local $refs
/// (<c>#/$defs/…</c>, <c>#/definitions/…</c>, <c>#</c>) are followed. <c>pattern</c> is not honoured.
/// </summary>
internal sealed class SchemaInstance
{
    private const int MaxDepth = 10;

    private readonly JsonElement _root;
    private readonly bool _allProperties;
    private readonly Func<string?, string> _stringFor;

    private SchemaInstance(JsonElement root, bool allProperties, Func<string?, string> stringFor)
    {
        _root = root;
        _allProperties = allProperties;
        _stringFor = stringFor;
    }

    /// <param name="stringFor">The plain string value for a property of that name (null at the root).</param>
    public static string Generate(ReadOnlyMemory<byte> schema, bool allProperties, Func<string?, string> stringFor)
    {
        using var doc = JsonDocument.Parse(schema);
        var generator = new SchemaInstance(doc.RootElement, allProperties, stringFor);
        var bytes = WireJson.Serialize(w => generator.Write(w, doc.RootElement, null, 0, 0));
        return System.Text.Encoding.UTF8.GetString(bytes);
    }

    private void Write(Utf8JsonWriter w, JsonElement schema, string? name, int variant, int depth)
    {
        var parts = Flatten(schema);
        if (parts.Count == 0)
        {
            w.WriteStringValue(_stringFor(name));
            return;
        }

        if (First(parts, "const") is { } constant)
        {
            constant.WriteTo(w);
            return;
        }

        if (First(parts, "enum") is { ValueKind: JsonValueKind.Array } values && values.GetArrayLength() > 0)
        {
            values[variant % values.GetArrayLength()].WriteTo(w);
            return;
        }

        switch (TypeOf(parts))
        {
            case "object":
                WriteObject(w, parts, depth);
                break;
            case "array":
                WriteArray(w, parts, name, depth);
                break;
            case "integer":
                WriteNumber(w, parts, variant, integer: true);
                break;
            case "number":
                WriteNumber(w, parts, variant, integer: false);
                break;
            case "boolean":
                w.WriteBooleanValue(variant % 2 == 0);
                break;
            case "null":
                w.WriteNullValue();
                break;
            default:
                w.WriteStringValue(StringValue(parts, name, variant));
                break;
        }
    }

    /// <summary>The schema with its $refs followed, its first non-null anyOf/oneOf branch and its allOf members.</summary>
    private List<JsonElement> Flatten(JsonElement schema)
    {
        var parts = new List<JsonElement>();
        Collect(schema, parts, 0);
        return parts;
    }

    private void Collect(JsonElement schema, List<JsonElement> parts, int hops)
    {
        if (schema.ValueKind != JsonValueKind.Object || hops > 32)
        {
            return;
        }

        if (schema.TryGetProperty("$ref", out var reference) && reference.ValueKind == JsonValueKind.String
            && Resolve(reference.GetString()!) is { } target)
        {
            Collect(target, parts, hops + 1);
        }

        parts.Add(schema);
        if (schema.TryGetProperty("allOf", out var all) && all.ValueKind == JsonValueKind.Array)
        {
            foreach (var member in all.EnumerateArray())
            {
                Collect(member, parts, hops + 1);
            }
        }

        // A branch is only taken when the schema says nothing of its own shape.
        if (!schema.TryGetProperty("type", out _) && !schema.TryGetProperty("properties", out _))
        {
            foreach (var keyword in (ReadOnlySpan<string>)["anyOf", "oneOf"])
            {
                if (schema.TryGetProperty(keyword, out var branches) && branches.ValueKind == JsonValueKind.Array && branches.GetArrayLength() > 0)
                {
                    Collect(PickBranch(branches), parts, hops + 1);
                    break;
                }
            }
        }
    }

    private static JsonElement PickBranch(JsonElement branches)
    {
        foreach (var branch in branches.EnumerateArray())
        {
            if (!(branch.ValueKind == JsonValueKind.Object && branch.TryGetProperty("type", out var t)
                  && t.ValueKind == JsonValueKind.String && t.ValueEquals("null")))
            {
                return branch;
            }
        }

        return branches[0];
    }

    /// <summary>A local JSON pointer reference; other references resolve to nothing (an unconstrained value).</summary>
    private JsonElement? Resolve(string reference)
    {
        if (!reference.StartsWith('#'))
        {
            return null;
        }

        var node = _root;
        foreach (var raw in reference[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            var token = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (node.ValueKind == JsonValueKind.Object && node.TryGetProperty(token, out var child))
            {
                node = child;
            }
            else if (node.ValueKind == JsonValueKind.Array && int.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && i < node.GetArrayLength())
            {
                node = node[i];
            }
            else
            {
                return null;
            }
        }

        return node;
    }

    private static JsonElement? First(List<JsonElement> parts, string keyword)
    {
        foreach (var part in parts)
        {
            if (part.TryGetProperty(keyword, out var value))
            {
                return value;
            }
        }

        return null;
    }

    private static double? Number(List<JsonElement> parts, string keyword) =>
        First(parts, keyword) is { ValueKind: JsonValueKind.Number } n ? n.GetDouble() : null;

    private static string TypeOf(List<JsonElement> parts)
    {
        if (First(parts, "type") is { } type)
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                return type.GetString()!;
            }

            if (type.ValueKind == JsonValueKind.Array)
            {
                string? fallback = null;
                foreach (var t in type.EnumerateArray())
                {
                    if (t.ValueKind == JsonValueKind.String && !t.ValueEquals("null"))
                    {
                        return t.GetString()!;
                    }

                    fallback ??= t.GetString();
                }

                return fallback ?? "string";
            }
        }

        if (First(parts, "properties") is not null || First(parts, "required") is not null || First(parts, "additionalProperties") is not null)
        {
            return "object";
        }

        if (First(parts, "items") is not null || First(parts, "prefixItems") is not null)
        {
            return "array";
        }

        return First(parts, "minimum") is not null || First(parts, "maximum") is not null ? "number" : "string";
    }

    private void WriteObject(Utf8JsonWriter w, List<JsonElement> parts, int depth)
    {
        var required = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            if (part.TryGetProperty("required", out var names) && names.ValueKind == JsonValueKind.Array)
            {
                foreach (var n in names.EnumerateArray())
                {
                    if (n.ValueKind == JsonValueKind.String)
                    {
                        required.Add(n.GetString()!);
                    }
                }
            }
        }

        var written = new HashSet<string>(StringComparer.Ordinal);
        var all = _allProperties && depth < MaxDepth;
        w.WriteStartObject();
        foreach (var part in parts)
        {
            if (!part.TryGetProperty("properties", out var properties) || properties.ValueKind != JsonValueKind.Object)
            {
                continue;
            }

            foreach (var property in properties.EnumerateObject())
            {
                if ((all || required.Contains(property.Name)) && written.Add(property.Name))
                {
                    w.WritePropertyName(property.Name);
                    Write(w, property.Value, property.Name, 0, depth + 1);
                }
            }
        }

        // Required names without a property schema (loose schemas) still get a value.
        foreach (var name in required)
        {
            if (written.Add(name))
            {
                w.WriteString(name, _stringFor(name));
            }
        }

        w.WriteEndObject();
    }

    private void WriteArray(Utf8JsonWriter w, List<JsonElement> parts, string? name, int depth)
    {
        var min = (int)Math.Clamp(Number(parts, "minItems") ?? 0, 0, 1000);
        var max = (int)Math.Clamp(Number(parts, "maxItems") ?? int.MaxValue, 0, int.MaxValue);
        var count = Math.Min(depth < MaxDepth ? Math.Max(min, 1) : min, max);
        var prefix = First(parts, "prefixItems") is { ValueKind: JsonValueKind.Array } p ? p : default;
        var items = First(parts, "items");

        w.WriteStartArray();
        for (var i = 0; i < count; i++)
        {
            var schema = prefix.ValueKind == JsonValueKind.Array && i < prefix.GetArrayLength()
                ? prefix[i]
                : items ?? default;
            Write(w, schema, name, i, depth + 1);
        }

        w.WriteEndArray();
    }

    private static void WriteNumber(Utf8JsonWriter w, List<JsonElement> parts, int variant, bool integer)
    {
        var min = Number(parts, "minimum");
        var max = Number(parts, "maximum");
        var exclusiveMin = Number(parts, "exclusiveMinimum");
        var exclusiveMax = Number(parts, "exclusiveMaximum");
        var step = integer ? 1 : 0.5;

        // Inclusive bounds (an exclusive bound moves one step inwards).
        var lo = Math.Max(min ?? double.NegativeInfinity, exclusiveMin is { } el ? (integer ? Math.Floor(el) + 1 : el + step) : double.NegativeInfinity);
        var hi = Math.Min(max ?? double.PositiveInfinity, exclusiveMax is { } eh ? (integer ? Math.Ceiling(eh) - 1 : eh - step) : double.PositiveInfinity);
        if (!integer && lo > hi && exclusiveMin is { } a && exclusiveMax is { } b)
        {
            lo = hi = (a + b) / 2; // a narrow open interval: its midpoint
        }

        var value = Math.Clamp(1.0 + variant, lo, Math.Max(lo, hi));
        if (double.IsInfinity(value))
        {
            value = 1;
        }

        if (Number(parts, "multipleOf") is { } multiple and > 0)
        {
            var up = Math.Ceiling(value / multiple) * multiple;
            value = up <= hi ? up : Math.Floor(hi / multiple) * multiple;
        }

        if (integer || value == Math.Floor(value) && Math.Abs(value) < 1e15)
        {
            w.WriteNumberValue((long)Math.Round(value));
        }
        else
        {
            w.WriteNumberValue(value);
        }
    }

    private string StringValue(List<JsonElement> parts, string? name, int variant)
    {
        var value = (First(parts, "format") is { ValueKind: JsonValueKind.String } format ? FormatValue(format.GetString()!, variant) : null)
                    ?? (variant == 0 ? _stringFor(name) : $"{_stringFor(name)}-{variant + 1}");
        var minLength = (int)Math.Clamp(Number(parts, "minLength") ?? 0, 0, 100_000);
        var maxLength = (int)Math.Clamp(Number(parts, "maxLength") ?? int.MaxValue, 0, int.MaxValue);
        if (value.Length < minLength)
        {
            value = value.PadRight(minLength, 'x');
        }

        return value.Length > maxLength ? value[..maxLength] : value;
    }

    private static string? FormatValue(string format, int variant) => format switch
    {
        "date-time" => $"2026-01-{1 + (variant % 28):00}T00:00:00Z",
        "date" => $"2026-01-{1 + (variant % 28):00}",
        "time" => "12:00:00Z",
        "duration" => $"PT{1 + variant}M",
        "email" => $"sim{variant}@example.com",
        "hostname" => $"sim{variant}.example.com",
        "ipv4" => $"192.0.2.{1 + (variant % 254)}",
        "ipv6" => $"2001:db8::{1 + variant:x}",
        "uri" or "url" or "uri-reference" or "iri" => $"https://example.com/sim/{variant}",
        "uuid" => $"00000000-0000-4000-8000-{variant:000000000000}",
        _ => null,
    };
}
