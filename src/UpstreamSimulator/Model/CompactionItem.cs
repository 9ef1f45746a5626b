using System.Text.Json;

namespace CodexLb.UpstreamSimulator.Model;

/// <summary>A remote-compaction result: opaque encrypted content that replaces the history on the client.</summary>
internal sealed class CompactionItem(string id, string encryptedContent) : OutputItem(id)
{
    protected override void WriteAdded(Utf8JsonWriter w) => WriteDone(w);

    protected override void WriteDone(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteString("type"u8, "compaction"u8);
        w.WriteString("id"u8, Id);
        w.WriteString("encrypted_content"u8, encryptedContent);
        w.WriteEndObject();
    }
}
