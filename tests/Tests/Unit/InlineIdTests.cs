using CodexLb.Grains.Conversation;

namespace CodexLb.Tests.Unit;

/// <summary>A response id kept inline in a cache entry reads back and compares as the string it was made from.</summary>
public sealed class InlineIdTests
{
    [Theory]
    [InlineData("resp_1")]
    [InlineData("resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b")] // a provider's id, 53 characters
    [InlineData("r23456789012345678901234567890123456789012345678901234567890123")] // 63: the longest kept inline
    [InlineData("r234567890123456789012345678901234567890123456789012345678901234")] // 64: kept as its string
    [InlineData("resp_ü")] // not ASCII: kept as its string
    [InlineData("")]
    public void An_id_reads_back_and_matches_only_itself(string id)
    {
        var inline = InlineId.Of(id);
        Assert.Equal(id, inline.Value);
        Assert.False(inline.IsNone);
        Assert.True(inline.Is(new string(id.AsSpan()))); // another instance of the same text
        Assert.False(inline.Is(id + "x"));
        Assert.False(inline.Is(null));
        if (id.Length > 0)
        {
            Assert.False(inline.Is(id[..^1]));
            Assert.False(inline.Is(id[..^1] + (char)(id[^1] + 1))); // the same length, the last character differs
        }
    }

    [Fact]
    public void No_id_is_none_and_matches_only_null()
    {
        var none = InlineId.Of(null);
        Assert.True(none.IsNone);
        Assert.Null(none.Value);
        Assert.True(none.Is(null));
        Assert.False(none.Is(""));
        Assert.False(none.Is("resp_1"));
        Assert.True(default(InlineId).IsNone);
    }
}
