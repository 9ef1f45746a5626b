using Orleans.Configuration;
using StackExchange.Redis;

namespace CodexLb.Silo.Hosting;

/// <summary>
/// In production the grain directory (which activation of a conversation is THE one) lives in Redis, not in Orleans'
/// default in-cluster directory, which spreads its entries over the silos. With that one, a silo that died took its
/// share of the entries along, and Orleans deactivated every activation registered there, on the surviving silos too
/// (reason DirectoryFailure). Each such conversation lost its upstream socket and sent its whole context with its next
/// turn, and a running turn among them was aborted and generated again. GrainDirectoryTests measured 9 of 16 activations
/// on the survivors of one kill -9; ChaosTests 7–13 per run. A Redis entry does not move when the membership changes. An
/// entry naming a silo declared dead is dropped at its next look-up, so a kill -9 is recovered from as before, and the
/// entries nobody looks up again are swept (<see cref="DeadSiloDirectorySweeper"/>).
/// Costs: one Redis round trip per activation, per deactivation and per look-up missing the silo's directory cache;
/// none per call of a warm conversation.
/// </summary>
public static class RedisGrainDirectory
{
    public static void Apply(ISiloBuilder silo, string connectionString)
    {
        silo.UseRedisGrainDirectoryAsDefault(o =>
        {
            o.ConfigurationOptions = ConfigurationOptions.Parse(connectionString);
            o.ConfigurationOptions.AbortOnConnectFail = false; // start even while Redis is briefly away, as the other Redis users do
        });
        silo.Services.AddHostedService<DeadSiloDirectorySweeper>();
    }
}
