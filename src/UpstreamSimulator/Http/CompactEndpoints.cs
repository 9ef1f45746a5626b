using System.Text.Json;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// <c>POST {prefix}/input_tokens</c> (what a create body would cost: <c>{"object":"response.input_tokens",…}</c>) and
/// <c>POST {prefix}/compact</c> (a <c>response.compaction</c> whose output is the input's user messages plus one opaque
/// <c>compaction</c> item, the shape the Codex CLI's remote compaction replaces its history with). A
/// previous_response_id must name a stored, completed response, as for creates.
/// </summary>
internal static class CompactEndpoints
{
    public static RequestDelegate InputTokens(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.InputTokens, CountTokens);

    public static RequestDelegate Compact(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.Compact, Compaction);

    private static byte[] CountTokens(SimulatorCore core, CreateRequest request, Anchor? anchor) => WireJson.Serialize(w =>
    {
        w.WriteStartObject();
        w.WriteString("object"u8, "response.input_tokens"u8);
        w.WriteNumber("input_tokens"u8, (anchor?.ContextTokens ?? 0) + request.InputTokens);
        w.WriteEndObject();
    });

    private static byte[] Compaction(SimulatorCore core, CreateRequest request, Anchor? anchor)
    {
        var kept = Store.InputItems.Normalize(request.InputJson, core.Ids).Where(IsUserMessage).ToList();
        var compactionId = core.Ids.Next("cmp");
        var compaction = new CompactionItem(compactionId, $"gAAAAA-sim-compaction-{compactionId}");
        var cached = anchor?.ContextTokens ?? 0;
        var input = cached + request.InputTokens;
        var output = kept.Sum(i => TokenCounter.FromByteLength(i.Length)) + compaction.Tokens;
        return WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, core.Ids.Next("resp"));
            w.WriteString("object"u8, "response.compaction"u8);
            w.WriteNumber("created_at"u8, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
            w.WriteStartArray("output"u8);
            foreach (var item in kept)
            {
                w.WriteRawValue(item, skipInputValidation: true);
            }

            w.WriteRawValue(compaction.Done, skipInputValidation: true);
            w.WriteEndArray();
            w.WriteStartObject("usage"u8);
            w.WriteNumber("input_tokens"u8, input);
            w.WriteStartObject("input_tokens_details"u8);
            w.WriteNumber("cached_tokens"u8, cached);
            w.WriteEndObject();
            w.WriteNumber("output_tokens"u8, output);
            w.WriteStartObject("output_tokens_details"u8);
            w.WriteNumber("reasoning_tokens"u8, 0);
            w.WriteEndObject();
            w.WriteNumber("total_tokens"u8, input + output);
            w.WriteEndObject();
            w.WriteEndObject();
        }, 1024);
    }

    private static bool IsUserMessage(byte[] item)
    {
        using var doc = JsonDocument.Parse(item);
        return doc.RootElement.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.ValueEquals("user");
    }

    private static async Task HandleAsync(HttpContext http, SimulatorCore core, RequestKind kind, Func<SimulatorCore, CreateRequest, Anchor?, byte[]> answer)
    {
        var entry = SimpleCall.Start(http, core, kind);
        await SimpleCall.RunAsync(http, core, entry, async () =>
        {
            var body = await HttpJson.ReadBodyAsync(http.Request.BodyReader, http.RequestAborted);
            CreateRequest request;
            try
            {
                request = CreateRequest.Parse(body, core.Options.DefaultModel, keepInput: kind == RequestKind.Compact);
            }
            catch (JsonException ex)
            {
                throw new SimErrorException(SimErrors.InvalidJson(ex.Message));
            }

            core.Describe(entry, request);
            var anchor = core.StoredAnchor(request.PreviousResponseId);
            core.Ledger.Update(entry, e => e.AnchorValid = request.PreviousResponseId is null ? null : anchor is not null);
            if (request.PreviousResponseId is { } previous && anchor is null)
            {
                throw new SimErrorException(SimErrors.PreviousResponseNotFound(previous));
            }

            return answer(core, request, anchor);
        });
    }
}
