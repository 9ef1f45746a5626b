using CodexLb.Gateway.Routing;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Tests.Unit;

/// <summary>A turn's identity: the client's idempotency key when it sends one, otherwise one no other turn of this gateway shares.</summary>
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
    public void The_clients_idempotency_key_is_the_turn_id_and_an_overlong_key_is_ignored()
    {
        Assert.Equal("client:k1", TurnDispatcher.TurnIdOf(new HeaderDictionary { [TurnDispatcher.IdempotencyHeader] = "k1", ["x-client-request-id"] = "r1" }));
        var overlong = TurnDispatcher.TurnIdOf(new HeaderDictionary { [TurnDispatcher.IdempotencyHeader] = new string('k', 257) });
        Assert.False(overlong.StartsWith("client:", StringComparison.Ordinal));
    }

    [Fact]
    public void The_codex_clis_request_id_is_no_turn_identity_because_every_turn_of_a_thread_sends_the_same()
    {
        // Codex CLI 0.169 sends x-client-request-id = its thread id on every request of the thread.
        var thread = new HeaderDictionary { ["x-client-request-id"] = "01a23539-a9da-7183-90b8-ae521ba7fe41" };
        var first = TurnDispatcher.TurnIdOf(thread);
        var next = TurnDispatcher.TurnIdOf(thread);
        Assert.NotEqual(first, next);
        Assert.DoesNotContain("client:", first);
    }
}
