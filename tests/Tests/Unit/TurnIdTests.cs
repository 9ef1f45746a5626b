using CodexLb.Gateway.Routing;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Tests.Unit;

/// <summary>A turn's identity: the client's key when it sends one, otherwise one no other turn of this gateway shares.</summary>
public sealed class TurnIdTests
{
    [Fact]
    public void Generated_ids_are_distinct_even_when_many_requests_ask_at_once()
    {
        var ids = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 20_000, _ => ids.Add(TurnDispatcher.TurnIdOf(null)));
        Assert.Equal(20_000, ids.Distinct().Count());
        Assert.All(ids, id => Assert.DoesNotContain("client:", id));
    }

    [Fact]
    public void The_clients_idempotency_key_wins_over_its_request_id_and_an_overlong_key_is_ignored()
    {
        var headers = new HeaderDictionary { [TurnDispatcher.IdempotencyHeader] = "k1", [TurnDispatcher.ClientRequestHeader] = "r1" };
        Assert.Equal("client:k1", TurnDispatcher.TurnIdOf(headers));
        Assert.Equal("client:r1", TurnDispatcher.TurnIdOf(new HeaderDictionary { [TurnDispatcher.ClientRequestHeader] = "r1" }));
        var overlong = TurnDispatcher.TurnIdOf(new HeaderDictionary { [TurnDispatcher.IdempotencyHeader] = new string('k', 257) });
        Assert.False(overlong.StartsWith("client:", StringComparison.Ordinal));
    }
}
