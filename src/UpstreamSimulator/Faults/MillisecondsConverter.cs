using System.Text.Json;
using System.Text.Json.Serialization;

namespace CodexLb.UpstreamSimulator;

/// <summary>Durations on the control wire are plain milliseconds: easier to write from curl or another language.</summary>
internal sealed class MillisecondsConverter : JsonConverter<TimeSpan?>
{
    public override bool HandleNull => true;

    public override TimeSpan? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.Null ? null : TimeSpan.FromMilliseconds(reader.GetDouble());

    public override void Write(Utf8JsonWriter writer, TimeSpan? value, JsonSerializerOptions options)
    {
        if (value is { } v)
        {
            writer.WriteNumberValue(v.TotalMilliseconds);
        }
        else
        {
            writer.WriteNullValue();
        }
    }
}
