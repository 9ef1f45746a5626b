using CodexLb.Grains.Abstractions;
using Orleans.Runtime.Placement;

namespace CodexLb.Grains.Conversation;

/// <summary>A conversation on a silo that drains (a rolling restart) moves before its next turn starts.</summary>
public sealed partial class ConversationGrain
{
    private bool _moving;

    /// <summary>
    /// A new turn is refused before anything reaches the provider: started here, it could lose its owner mid-stream when
    /// the silo stops, and its client's retry would run it a second time. Once nothing runs here the activation migrates to
    /// another active silo (placement alone would happily pick this one again: it is the least loaded), where the gateway's
    /// re-dispatch of the same turn finds it and the conversation continues from the store. A move would stop the turns
    /// still running, so while there are any (the drain waits for them) the refusal alone stands, as it does with no other
    /// silo: the gateway retries, then answers retryably.
    /// </summary>
    private OwnerDeactivatingException MoveForDrain()
    {
        if (!_moving && !_turns.Values.Any(t => !t.Finished))
        {
            var others = membership.CurrentSnapshot.Members.Values
                .Where(m => m.Status == SiloStatus.Active && !m.SiloAddress.Equals(localSilo.SiloAddress))
                .Select(m => m.SiloAddress).ToList();
            if (others.Count > 0)
            {
                _moving = true;
                RequestContext.Set(IPlacementDirector.PlacementHintKey, others[Random.Shared.Next(others.Count)]);
                this.MigrateOnIdle(); // takes the request context along: the hint names where the activation goes
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }
        }
        return new OwnerDeactivatingException();
    }
}
