using System.Text.Json;
using CodexLb.Grains.Abstractions;

namespace CodexLb.Gateway.Keys;

/// <summary>
/// A key's usage as JSON, the same for the key itself (<c>GET /v1/usage</c>) and for operators (<c>GET /admin/usage</c>):
/// totals and per model over the current minute (sliding) and UTC day, the key's limits and what remains of them.
/// </summary>
public static class UsageJson
{
    public static void WriteKey(Utf8JsonWriter writer, ClientKey key, KeyUsage usage)
    {
        var minute = Total(usage.Minute);
        var day = Total(usage.Day);
        var limits = key.Limits;
        writer.WriteString("name", key.Name);

        writer.WriteStartObject("limits");
        Limit(writer, "requests_per_minute", limits.RequestsPerMinute);
        Limit(writer, "tokens_per_minute", limits.TokensPerMinute);
        Limit(writer, "tokens_per_day", limits.TokensPerDay);
        if (key.Models.Length == 0) writer.WriteNull("models");
        else
        {
            writer.WriteStartArray("models");
            foreach (var model in key.Models) writer.WriteStringValue(model);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();

        writer.WriteStartObject("remaining");
        Limit(writer, "requests_per_minute", limits.RequestsPerMinute, minute.Requests);
        Limit(writer, "tokens_per_minute", limits.TokensPerMinute, minute.TotalTokens);
        Limit(writer, "tokens_per_day", limits.TokensPerDay, day.TotalTokens);
        writer.WriteEndObject();

        Counts(writer, "minute", minute);
        Counts(writer, "day", day);
        writer.WriteNumber("day_resets_at", usage.DayEndsAt.ToUnixTimeSeconds());

        writer.WriteStartArray("models");
        foreach (var model in usage.Day.Select(d => d.Model).Union(usage.Minute.Select(m => m.Model)).Order(StringComparer.Ordinal))
        {
            writer.WriteStartObject();
            writer.WriteString("model", model);
            Counts(writer, "minute", usage.Minute.FirstOrDefault(m => m.Model == model) ?? new ModelUsage(model, 0, 0, 0));
            Counts(writer, "day", usage.Day.FirstOrDefault(d => d.Model == model) ?? new ModelUsage(model, 0, 0, 0));
            writer.WriteEndObject();
        }
        writer.WriteEndArray();
    }

    private static ModelUsage Total(ModelUsage[] models) =>
        new("*", models.Sum(m => m.Requests), models.Sum(m => m.InputTokens), models.Sum(m => m.OutputTokens));

    private static void Counts(Utf8JsonWriter writer, string name, ModelUsage counts)
    {
        writer.WriteStartObject(name);
        writer.WriteNumber("requests", counts.Requests);
        writer.WriteNumber("input_tokens", counts.InputTokens);
        writer.WriteNumber("output_tokens", counts.OutputTokens);
        writer.WriteNumber("total_tokens", counts.TotalTokens);
        writer.WriteEndObject();
    }

    /// <summary>The limit (or null: none); with <paramref name="used"/>, what remains of it.</summary>
    private static void Limit(Utf8JsonWriter writer, string name, long limit, long? used = null)
    {
        if (limit <= 0) writer.WriteNull(name);
        else writer.WriteNumber(name, used is { } u ? Math.Max(0, limit - u) : limit);
    }
}
