using CodexLb.Gateway.Routing;
using Microsoft.AspNetCore.Http;

namespace CodexLb.Tests.Unit;

public sealed class TurnRouterTests
{
    private static string Key(string tenant, string? cacheKey, params (string Name, string Value)[] headers)
    {
        var dictionary = new HeaderDictionary();
        foreach (var (name, value) in headers) dictionary[name] = value;
        return TurnRouter.SessionKey(tenant, cacheKey, dictionary);
    }

    [Fact]
    public void Session_headers_follow_the_precedence_and_include_the_tenant()
    {
        var byThread = Key("t1", "pk", ("thread-id", "T"), ("session-id", "S"));
        Assert.StartsWith("t1/thread/", byThread);
        Assert.Equal(byThread, Key("t1", null, ("thread-id", "T")));
        Assert.StartsWith("t1/session/", Key("t1", "pk", ("session-id", "S")));
        Assert.Equal(Key("t1", null, ("session-id", "S")), Key("t1", null, ("x-codex-session-id", "S")));
        Assert.Equal(Key("t1", null, ("session-id", "S")), Key("t1", null, ("session_id", "S")));
        Assert.StartsWith("t1/cache/", Key("t1", "pk"));
        Assert.StartsWith("t1/req/", Key("t1", null));
        Assert.NotEqual(Key("t1", null), Key("t1", null)); // no session: a new conversation each time
        Assert.NotEqual(Key("t1", null, ("thread-id", "T")), Key("t2", null, ("thread-id", "T")));
    }

    [Fact]
    public void Turn_state_we_issued_wins_but_only_for_its_own_tenant()
    {
        var issued = Key("t1", null, ("thread-id", "T"));
        Assert.Equal(issued, Key("t1", "pk", ("x-codex-turn-state", issued), ("thread-id", "OTHER")));
        // Another tenant cannot steer into t1's conversation by echoing its turn state.
        Assert.StartsWith("t2/", Key("t2", null, ("x-codex-turn-state", issued), ("thread-id", "T")));
    }

    [Fact]
    public void Raw_session_values_never_appear_in_keys()
    {
        var key = Key("t1", null, ("thread-id", "secret-looking-thread"));
        Assert.DoesNotContain("secret-looking-thread", key);
    }
}
