using CodexLb.Grains.Abstractions;

namespace CodexLb.Grains.Accounts;

/// <summary>The conversation's account takes no connect now (cooling, exhausted, re-auth needed): the turn moves.</summary>
public sealed class AccountLeaseRefusedException(AccountLease lease) : Exception($"Upstream account {lease.Account} is unavailable ({lease.Reason}).")
{
    public AccountLease Lease { get; } = lease;
}
