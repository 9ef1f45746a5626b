using Orleans.Configuration;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// Failure detection tuned for a bridge. In Orleans 10, each silo probes the others with an adaptive timeout. Until four
/// round trips are recorded the timeout is <c>ProbeTimeout</c> (1 s). After that it is clamped between
/// <c>MinProbeTimeout</c> (half of <c>ProbeTimeout</c>) and <c>MaxProbeTimeout</c>, which is about 0.5 s on a quiet
/// network. A silo is suspected after <c>NumMissedProbesLimit</c> failed probes in a row. The connection liveness check
/// (on by default) blocks that vote while the silo's connection still exists and has received a message within
/// <c>MaxProbeTimeout</c> x <c>NumMissedProbesLimit</c>. So a crash and a freeze are detected at different speeds
/// (measured on loopback by ExactlyOnceClusterTests):
/// <list type="bullet">
/// <item>A crashed silo (kill -9) has its connections reset, so it is declared dead after two failed probes: 0.8-1.8 s
/// (the slow end is a young cluster, which still probes once a second). A turn it owned before response.created completed
/// on the other silo 1.7-2.1 s after the kill. Lowering MaxProbeTimeout did not change this (Orleans default maximum:
/// 1.71-2.01 s; 2 s maximum: 1.87-2.14 s).</item>
/// <item>A frozen silo (SIGSTOP, a long stall, a partition) keeps its connections open, so it is declared dead only once
/// the window has passed since its last message. That window is 4 s here (MaxProbeTimeout 2 s x 2 missed probes), and
/// eviction came 3.8-4.4 s after SIGSTOP. With the Orleans default maximum (4 x ProbeTimeout) the window was 8 s: a frozen
/// owner was evicted 8.15 s after SIGSTOP, and its clients waited that long.</item>
/// </list>
/// The trade-off: the owner survives a stall shorter than the window minus one probe period (about 3.4 s), and its clients
/// do not see it. A 2.5 s SIGSTOP cost no generation and no failure, before or after response.created. A longer stall gets
/// the silo declared dead. A silo that finds itself dead when it resumes stops, and its conversations reactivate elsewhere
/// from the response tree. Keep the window well above the gateways' owner timeout (2 s) and above common GC and CPU stalls.
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
