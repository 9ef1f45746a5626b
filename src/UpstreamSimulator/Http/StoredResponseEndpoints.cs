using System.Globalization;
using System.Text.Json;
using CodexLb.UpstreamSimulator.Ledger;
using CodexLb.UpstreamSimulator.Model;
using CodexLb.UpstreamSimulator.Store;
using CodexLb.UpstreamSimulator.Wire;
using Microsoft.AspNetCore.Http;

namespace CodexLb.UpstreamSimulator.Http;

/// <summary>
/// <c>GET/DELETE {prefix}/{id}</c>, <c>POST {prefix}/{id}/cancel</c> and <c>GET {prefix}/{id}/input_items</c> on the
/// stored responses. Every call is a ledger request of its <see cref="RequestKind"/>; unknown ids are 404.
/// </summary>
internal static class StoredResponseEndpoints
{
    public static RequestDelegate Retrieve(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.Retrieve, RetrieveAsync);

    public static RequestDelegate Delete(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.Delete, DeleteAsync);

    public static RequestDelegate Cancel(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.Cancel, CancelAsync);

    public static RequestDelegate InputItems(SimulatorCore core) => http => HandleAsync(http, core, RequestKind.InputItems, ListInputItemsAsync);

    private static Task<byte[]> RetrieveAsync(SimulatorCore core, StoredResponse stored, IQueryCollection query) =>
        Task.FromResult(stored.Snapshot());

    private static async Task<byte[]> DeleteAsync(SimulatorCore core, StoredResponse stored, IQueryCollection query)
    {
        core.Store.Remove(stored.Id);
        await stored.Cancellation.CancelAsync(); // a background run stops
        return WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("id"u8, stored.Id);
            w.WriteString("object"u8, "response"u8);
            w.WriteBoolean("deleted"u8, true);
            w.WriteEndObject();
        });
    }

    private static async Task<byte[]> CancelAsync(SimulatorCore core, StoredResponse stored, IQueryCollection query)
    {
        if (!stored.Background)
        {
            throw new SimErrorException(SimErrors.NotCancellable());
        }

        // Cancelling a finished response changes nothing and returns it as it is.
        if (stored.TryMove("cancelled"))
        {
            await stored.Cancellation.CancelAsync();
        }

        return stored.Snapshot();
    }

    /// <summary>A page of the input items: <c>limit</c> (1–100, 20), <c>order</c> (desc by default), <c>after</c> (an item id).</summary>
    private static Task<byte[]> ListInputItemsAsync(SimulatorCore core, StoredResponse stored, IQueryCollection query)
    {
        var limit = int.TryParse(query["limit"], NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? Math.Clamp(l, 1, 100) : 20;
        var items = query["order"] == "asc" ? stored.InputItems : stored.InputItems.Reverse().ToList();
        var after = query["after"].ToString();
        var start = 0;
        if (after.Length > 0)
        {
            var index = items.Select(Store.InputItems.IdOf).ToList().IndexOf(after);
            start = index < 0 ? items.Count : index + 1;
        }

        var page = items.Skip(start).Take(limit).ToList();
        return Task.FromResult(WireJson.Serialize(w =>
        {
            w.WriteStartObject();
            w.WriteString("object"u8, "list"u8);
            w.WriteStartArray("data"u8);
            foreach (var item in page)
            {
                w.WriteRawValue(item, skipInputValidation: true);
            }

            w.WriteEndArray();
            WriteId(w, "first_id"u8, page.Count > 0 ? Store.InputItems.IdOf(page[0]) : null);
            WriteId(w, "last_id"u8, page.Count > 0 ? Store.InputItems.IdOf(page[^1]) : null);
            w.WriteBoolean("has_more"u8, start + page.Count < items.Count);
            w.WriteEndObject();
        }, 4096));
    }

    private static void WriteId(Utf8JsonWriter w, ReadOnlySpan<byte> name, string? id)
    {
        if (id is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, id);
        }
    }

    private static Task HandleAsync(HttpContext http, SimulatorCore core, RequestKind kind,
        Func<SimulatorCore, StoredResponse, IQueryCollection, Task<byte[]>> found)
    {
        var id = http.Request.RouteValues["id"]?.ToString() ?? "";
        var entry = SimpleCall.Start(http, core, kind);
        core.Ledger.Update(entry, e => e.ResponseId = id);
        return SimpleCall.RunAsync(http, core, entry, () =>
        {
            var stored = core.Store.Get(id) ?? throw new SimErrorException(SimErrors.ResponseNotFound(id));
            core.Ledger.Update(entry, e => e.Model = stored.Turn.Model);
            return found(core, stored, http.Request.Query);
        });
    }
}
