using System.Diagnostics;
using CodexLb.Gateway.Hosting;
using CodexLb.Tests.Security;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Xunit;

namespace CodexLb.Tests.Unit;

/// <summary>
/// A gateway that cannot reach the cluster at start retries soon at first (a silo started beside it is usually listed
/// within a second), then every 2 s, and never gives up on its own.
/// </summary>
public sealed class ClusterConnectRetryTests
{
    [Fact]
    public void The_wait_doubles_from_a_quarter_second_up_to_two_seconds()
    {
        Assert.Equal(
            [0.25, 0.5, 1.0, 2.0, 2.0, 2.0],
            Enumerable.Range(1, 6).Select(n => ClusterConnectRetry.DelayAfter(n).TotalSeconds));
        Assert.Equal(TimeSpan.FromSeconds(2), ClusterConnectRetry.DelayAfter(int.MaxValue)); // no overflow after hours of retries
        Assert.Throws<ArgumentOutOfRangeException>(() => ClusterConnectRetry.DelayAfter(0));
    }

    [Fact]
    public async Task Each_failed_attempt_waits_its_turn_logs_one_warning_without_the_message_and_retries()
    {
        using var capture = new LogSecrecyCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(capture));
        var retry = new ClusterConnectRetry(factory.CreateLogger<ClusterConnectRetry>());
        var failure = new SiloUnavailableException("redis at 10.0.0.7:6379,password=hunter2 is down");

        var clock = Stopwatch.StartNew();
        Assert.True(await retry.ShouldRetryConnectionAttempt(failure, CancellationToken.None));
        var first = clock.Elapsed;
        Assert.True(await retry.ShouldRetryConnectionAttempt(failure, CancellationToken.None));
        Assert.True(first >= TimeSpan.FromMilliseconds(240), $"the first retry came after {first.TotalMilliseconds} ms");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(740), $"the second retry came after {clock.Elapsed.TotalMilliseconds} ms in all");

        var lines = capture.Lines.Where(l => l.Category == typeof(ClusterConnectRetry).FullName).ToList();
        Assert.Equal(2, lines.Count);
        Assert.All(lines, l => Assert.Equal(LogLevel.Warning, l.Level));
        Assert.Contains("(SiloUnavailableException); retrying in 0.25 s", lines[0].Text);
        Assert.Contains("retrying in 0.5 s", lines[1].Text);
        Assert.All(lines, l => Assert.DoesNotContain("hunter2", l.Text));

        // A gateway shutting down stops retrying at once.
        using var stopping = new CancellationTokenSource();
        stopping.Cancel();
        Assert.False(await retry.ShouldRetryConnectionAttempt(failure, stopping.Token));
    }
}
