using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Grains;

/// <summary>The gateway's cached references address exactly the grain Orleans' own GetGrain does.</summary>
[Collection(GrainClusterCollection.Name)]
public sealed class GrainReferencesTests(GrainClusterFixture fixture)
{
    [Fact]
    public async Task A_reference_by_key_is_the_same_grain_as_GetGrain_for_every_key()
    {
        foreach (var key in new[] { ConversationKey.Create("refs", "session", Guid.NewGuid().ToString("N")), "plain-" + Guid.NewGuid() })
        {
            var cached = fixture.Grains.ByKey<IConversationGrain>(key);
            var resolved = fixture.Grains.GetGrain<IConversationGrain>(key);
            Assert.Equal(resolved.GetGrainId(), cached.GetGrainId());
            Assert.Equal(((GrainReference)(object)resolved).InterfaceType, ((GrainReference)(object)cached).InterfaceType);
            Assert.Equal((await resolved.GetStats()).Turns, (await cached.GetStats()).Turns);
        }
        Assert.NotEqual(fixture.Grains.ByKey<IClientKeyGrain>("k").GetGrainId().Type, fixture.Grains.ByKey<IConversationGrain>("k").GetGrainId().Type);
    }
}
