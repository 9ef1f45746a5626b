namespace CodexLb.Grains.Abstractions;

/// <summary>
/// A turn reached a conversation while its activation was deactivating, or moving off a draining silo: nothing ran, and
/// the caller re-dispatches it (the next call reaches the conversation's new activation). An <see cref="OrleansException"/>, so gateways count it as
/// owner loss.
/// </summary>
[GenerateSerializer]
public sealed class OwnerDeactivatingException : OrleansException
{
    public OwnerDeactivatingException() : base("The conversation's owner is deactivating; call it again.") { }
}
