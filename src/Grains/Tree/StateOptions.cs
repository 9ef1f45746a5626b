using Microsoft.Extensions.Options;

namespace CodexLb.Grains.Tree;

/// <summary>How long conversation state is kept (<c>CodexLb:State</c>).</summary>
public sealed class StateOptions
{
    public const string Section = "CodexLb:State";

    /// <summary>
    /// Every response id stays resumable at least this long after it was last used (created or continued); after that it
    /// answers 400 previous_response_not_found saying it expired. The provider keeps stored responses 30 days.
    /// </summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long an expired id is still recognised as one we issued (so the error can say it expired).</summary>
    public TimeSpan ExpiredMemory { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// A conversation quiet for this long drops the contexts it caches (its items stay in the store): the next turn reads
    /// its base back, one store read. Keeps memory per idle conversation small however long its context.
    /// </summary>
    public TimeSpan IdleRelease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The Redis store keeps a node's items Brotli-compressed when they come to at least this many bytes (0: never).
    /// A Codex context of source and logs shrinks ~3.5x. Silos of a version before compression cannot read compressed
    /// nodes: set 0 while such silos are still running, as in a rolling upgrade from one.
    /// </summary>
    public int CompressItemsAbove { get; set; } = 1024;

    /// <summary>
    /// A started response stays routable (retrievable, cancellable, chainable) this long past its owner's last refresh
    /// (never past the retention): its owner refreshes it every third of this while the response runs, so a background
    /// response that runs for an hour reads as running for that hour. Left behind by a lost owner, it lapses after this,
    /// and a lost background response can be run again only until then: keep it well above the time the cluster takes to
    /// declare a silo dead, plus a third of itself and <c>CodexLb:Upstream:StreamIdleTimeout</c> (the longest gap between refreshes).
    /// </summary>
    public TimeSpan PendingLifetime { get; set; } = TimeSpan.FromMinutes(15);
}

public sealed class StateOptionsValidator : IValidateOptions<StateOptions>
{
    public ValidateOptionsResult Validate(string? name, StateOptions options) =>
        options.Retention < TimeSpan.FromSeconds(1) || options.ExpiredMemory < TimeSpan.Zero || options.IdleRelease < TimeSpan.FromMilliseconds(100)
            || options.CompressItemsAbove < 0 || options.PendingLifetime < TimeSpan.FromSeconds(1)
            ? ValidateOptionsResult.Fail($"{StateOptions.Section}:Retention and PendingLifetime must be at least one second, ExpiredMemory not negative, IdleRelease at least 100 ms and CompressItemsAbove not negative.")
            : ValidateOptionsResult.Success;
}
