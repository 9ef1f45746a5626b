using CodexLb.UpstreamSimulator;

namespace CodexLb.Tests.Clients;

/// <summary>What the bridge sent the provider for a client's conversation, read from the simulator's ledger.</summary>
public static class UpstreamChecks
{
    public static RequestRecord Request(this SimulatorLedger ledger, string responseId)
    {
        var matching = ledger.Requests.Where(r => r.ResponseId == responseId).ToList();
        Assert.True(matching.Count == 1, $"{matching.Count} upstream requests produced {responseId}");
        return matching[0];
    }

    /// <summary>
    /// The conversation's turns (in order) each reached the provider exactly once: the first with
    /// <paramref name="newItems"/>[0] items, every later one as a delta anchored on the turn before it, on the same
    /// socket, carrying only its <paramref name="newItems"/>[i] new items. The token accounting proves nothing was
    /// resent: a delta's cached context is exactly the previous request's context plus its output.
    /// </summary>
    public static void AssertDeltaChain(this SimulatorLedger ledger, IReadOnlyList<string> responseIds, params int[] newItems)
    {
        Assert.Equal(newItems.Length, responseIds.Count);
        var requests = responseIds.Select(ledger.Request).ToList();
        Assert.All(requests, r => Assert.Equal(RequestOutcome.Completed, r.Outcome));
        Assert.False(requests[0].IsDelta, "the first turn went upstream anchored on something");
        Assert.Equal(newItems[0], requests[0].InputItemCount);
        for (var i = 1; i < requests.Count; i++)
        {
            var (previous, current) = (requests[i - 1], requests[i]);
            var anchoredOnPrevious = ledger.Requests.Count(r => r.PreviousResponseId == previous.ResponseId);
            Assert.True(current.IsDelta, $"turn {i + 1} went upstream in full ({current.InputItemCount} items), not as a delta");
            Assert.Equal(previous.ResponseId, current.PreviousResponseId);
            Assert.Equal(previous.ConnectionId, current.ConnectionId);
            Assert.Equal(newItems[i], current.InputItemCount);
            Assert.Equal(previous.ContextTokens + previous.OutputTokens, current.CachedTokens);
            Assert.Equal(1, anchoredOnPrevious);
        }
    }
}
