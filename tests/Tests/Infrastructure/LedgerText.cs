using System.Globalization;
using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Infrastructure;

/// <summary>The simulator's ledger as text, for test output and assertion messages: one line per upstream request.</summary>
public static class LedgerText
{
    public static string Line(RequestRecord r) =>
        $"#{r.Id} conn {r.ConnectionId?.ToString(CultureInfo.InvariantCulture) ?? "http"}/{r.IndexOnConnection} " +
        $"{r.Outcome}{(r.ErrorCode is null ? "" : $"({r.ErrorCode})")} gen={r.Generate} delta={r.IsDelta} prev={r.PreviousResponseId ?? "-"} " +
        $"anchorValid={r.AnchorValid?.ToString() ?? "-"} items={r.InputItemCount} new={r.NewInputTokens} ctx={r.ContextTokens} " +
        $"resp={r.ResponseId ?? "-"}{(r.Fault is null ? "" : $" fault={r.Fault}")}";

    /// <summary>The lines of <paramref name="requests"/>, one per line, or joined by <paramref name="separator"/> inside a message.</summary>
    public static string Lines(IEnumerable<RequestRecord> requests, string separator = "\n") => string.Join(separator, requests.Select(Line));
}
