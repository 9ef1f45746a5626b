using Orleans.Configuration;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Failure detection tuned for a bridge. Orleans 10 probes each silo with an adaptive timeout (between
/// <c>MinProbeTimeout</c>, half of <c>ProbeTimeout</c>, and <c>MaxProbeTimeout</c>; about 0.5 s on a quiet network), and
/// it suppresses the vote against a silo whose connection still exists and received a message within
/// <c>MaxProbeTimeout</c> x <c>NumMissedProbesLimit</c> (the connection liveness check). So two deaths differ:
/// <list type="bullet">
/// <item>A crashed silo (kill -9: its connections are reset) is declared dead after two failed probes, 0.8-1.1 s; a turn it
/// owned completes on another silo 1.7-2.0 s after the kill (measured, ExactlyOnceClusterTests).</item>
/// <item>A frozen silo (SIGSTOP, a long pause, a partition: its connections stay open) is declared dead once the
/// window has passed since its last message: 4 s here (MaxProbeTimeout 2 s x 2). Orleans' default maximum (4 x
/// ProbeTimeout) made that 8 s: a frozen owner was evicted 8.15 s after SIGSTOP and its clients waited that long.</item>
/// </list>
/// The trade-off: a stall shorter than the window minus the probe period (about 3.4 s) is survived and invisible to
/// clients (a 2.5 s SIGSTOP of an owner mid-stream costs nothing, measured); a longer one gets the silo declared dead,
/// and a silo that finds itself dead when it resumes stops (its conversations reactivate elsewhere from the response
/// tree). Do not lower the window towards the gateways' owner timeout (2 s) or common GC/CPU stalls would kill silos.
/// </summary>
public static class MembershipTuning
{
    public static void Apply(ISiloBuilder silo) => silo.Configure<ClusterMembershipOptions>(o =>
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.MaxProbeTimeout = TimeSpan.FromSeconds(2);
        o.NumMissedProbesLimit = 2;
        o.EnableConnectionLivenessCheck = true; // the default; the frozen-silo window above relies on it
        o.NumVotesForDeathDeclaration = 1;
        o.TableRefreshTimeout = TimeSpan.FromSeconds(2);
        o.DeathVoteExpirationTimeout = TimeSpan.FromSeconds(10);
    });
}
