using CodexLb.Benchmarks.Infrastructure;

namespace CodexLb.Benchmarks.Scenarios;

/// <summary>
/// How firm one run's verdict on an added p99 is: every path's turns drawn again with replacement (a bootstrap), the goal's
/// rule applied to each draw. At c=1 the verdict rests on the few slowest turns of each path, and direct's own slowest
/// turns (a few ms late on the way to the simulator or back, no proxy in the way) are as long as what a proxy adds: one build read
/// 0.23x to 2.5x in runs an hour apart. At c=1 the turns are nearly independent, which the bootstrap needs; at c=64 they
/// are slow together in episodes (see <see cref="FloorStalls"/>), so it is not used there.
/// </summary>
internal static class FloorResampling
{
    private const int Resamples = 1000;

    /// <param name="Met">share of the draws in which the goal holds</param>
    /// <param name="NotJudged">share in which direct's p99 exceeded the bridge's (the goal line says "not judged")</param>
    public readonly record struct Verdict(double Met, double NotJudged)
    {
        public double Missed => 1 - Met - NotJudged;

        public override string ToString() =>
            $"drawn again {Resamples:N0} times from this run's turns, met in {Met * 100:N0}%, missed in {Missed * 100:N0}%, not judged in {NotJudged * 100:N0}%";
    }

    /// <summary>The goal "bridge's added p99 &lt;= factor x YARP's" (each over direct's p99), as the goal line judges it.</summary>
    public static Verdict AddedP99(IReadOnlyList<double> bridge, IReadOnlyList<double> yarp, IReadOnlyList<double> direct, double factor)
    {
        var random = new Random(1); // the same draws for the same run: a report printed twice reads the same
        var (met, notJudged) = (0, 0);
        for (var i = 0; i < Resamples; i++)
        {
            var directP99 = P99OfDraw(direct, random);
            var added = P99OfDraw(bridge, random) - directP99;
            var yarpAdded = P99OfDraw(yarp, random) - directP99;
            if (added < 0) notJudged++;
            else if (added <= factor * Math.Max(yarpAdded, 0)) met++;
        }
        return new Verdict(met / (double)Resamples, notJudged / (double)Resamples);
    }

    private static double P99OfDraw(IReadOnlyList<double> samples, Random random) =>
        new Distribution(Enumerable.Range(0, samples.Count).Select(_ => samples[random.Next(samples.Count)])).P99;
}
