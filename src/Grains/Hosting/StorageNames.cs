namespace CodexLb.Grains.Hosting;

/// <summary>Grain storage provider names the silo host must register.</summary>
public static class StorageNames
{
    public const string Conversations = "conversations";
    public const string Aliases = "aliases";
}
