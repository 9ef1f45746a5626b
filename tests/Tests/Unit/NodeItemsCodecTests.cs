using System.Text;
using CodexLb.Grains.Tree;

namespace CodexLb.Tests.Unit;

/// <summary>
/// The Redis store's items blob: compressed from a threshold when that saves space, plain otherwise, and a plain blob
/// written before compression existed still decodes.
/// </summary>
public sealed class NodeItemsCodecTests
{
    [Fact]
    public void Items_from_the_threshold_are_compressed_and_come_back_byte_for_byte()
    {
        var items = CodexLikeItems(50);
        var plain = NodeItemsCodec.Encode(items);

        var stored = NodeItemsCodec.Encode(items, compressAbove: 1024);

        Assert.True(stored.Length < plain.Length / 2, $"{plain.Length} -> {stored.Length} bytes");
        Assert.Equal((byte)'B', stored[0]);
        AssertItems(items, NodeItemsCodec.Decode(stored));
    }

    [Fact]
    public void Items_below_the_threshold_or_with_compression_off_stay_plain()
    {
        var items = CodexLikeItems(3);
        var plain = NodeItemsCodec.Encode(items);

        Assert.Equal(plain, NodeItemsCodec.Encode(items, compressAbove: plain.Length + 1));
        Assert.Equal(plain, NodeItemsCodec.Encode(items, compressAbove: 0));
        Assert.NotEqual(plain, NodeItemsCodec.Encode(items, compressAbove: plain.Length));
    }

    [Fact]
    public void Items_that_do_not_compress_stay_plain()
    {
        var noise = new byte[64 * 1024];
        Random.Shared.NextBytes(noise);
        byte[][] items = [noise, Encoding.UTF8.GetBytes("""{"type":"message"}""")];

        var stored = NodeItemsCodec.Encode(items, compressAbove: 1024);

        Assert.Equal(NodeItemsCodec.Encode(items), stored);
        AssertItems(items, NodeItemsCodec.Decode(stored));
    }

    [Fact]
    public void A_plain_blob_from_before_compression_still_decodes_and_so_do_empty_items()
    {
        // Written by hand as the format has always been: a length, then the bytes, per item.
        byte[] legacy = [3, 0, 0, 0, (byte)'a', (byte)'b', (byte)'c', 0, 0, 0, 0, 1, 0, 0, 0, 0xFF];

        AssertItems([Encoding.ASCII.GetBytes("abc"), [], [0xFF]], NodeItemsCodec.Decode(legacy));
        Assert.Empty(NodeItemsCodec.Decode(NodeItemsCodec.Encode([], compressAbove: 1)));
    }

    [Fact]
    public void A_damaged_compressed_blob_fails_loudly()
    {
        var stored = NodeItemsCodec.Encode(CodexLikeItems(20), compressAbove: 1024);

        Assert.Throws<InvalidDataException>(() => NodeItemsCodec.Decode(stored.AsSpan(0, stored.Length - 10)));
        Assert.Throws<InvalidDataException>(() => NodeItemsCodec.Decode(stored.AsSpan(0, 6)));
        var longer = stored.ToArray();
        longer[4]++; // a stated length one more than what the data holds
        Assert.Throws<InvalidDataException>(() => NodeItemsCodec.Decode(longer));
        var shorter = stored.ToArray();
        shorter[4]--;
        Assert.Throws<InvalidDataException>(() => NodeItemsCodec.Decode(shorter));
    }

    /// <summary>Tool outputs carrying source text, each different, as a Codex session's context has them.</summary>
    internal static byte[][] CodexLikeItems(int count) =>
        Enumerable.Range(0, count).Select(i => Encoding.UTF8.GetBytes(
            $$"""{"type":"function_call_output","call_id":"call_{{i}}","output":"{{string.Join("\\n", Enumerable.Range(0, 40).Select(line =>
                $"    public int Field{{i}}_{{line}} {{ get; set; }} = {{(i * 7919 + line * 104729) % 65521}}; // line {{line}} of file {{i}}"))}}"}""")).ToArray();

    private static void AssertItems(IReadOnlyList<byte[]> expected, IReadOnlyList<byte[]> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++) Assert.Equal(expected[i], actual[i]);
    }
}
