using CodexLb.Grains.Abstractions;
using System.Text;
using CodexLb.Grains.Tree;

namespace CodexLb.Tests.Unit;

/// <summary>The memory store keeps each node as one blob: every field must come back exactly, and the header readers must agree.</summary>
public sealed class NodeBlobTests
{
    private static readonly string Conversation = "tenant-1/thread/c1";

    [Fact]
    public void A_node_with_every_field_round_trips()
    {
        var big = new byte[300_000];
        Random.Shared.NextBytes(big);
        byte[] invalidUtf8 = [0xFF, 0xFE, 0x00, 0xC3, 0x28, (byte)'\n', 0x80];
        var node = new ResponseNode("resp_é", "resp_parent", Conversation, 7, 0xFEDC_BA98_7654_3210, [Text("in"), [], invalidUtf8, big],
            Synthetic: true, Response: Text("""{"id":"resp_é"}"""), OutputCount: 2, OutputIds: ["", "msg_1", "", "rs_ü"]);

        AssertSame(node, RoundTrip(node));
    }

    [Fact]
    public void A_root_without_response_outputs_or_items_round_trips_with_its_nulls()
    {
        var node = new ResponseNode("resp_root", null, Conversation, 0, 0, []);

        var decoded = RoundTrip(node);

        AssertSame(node, decoded);
        Assert.Null(decoded.ParentId);
        Assert.Null(decoded.Response);
        Assert.Null(decoded.OutputIds);
        Assert.Empty(decoded.Added);
    }

    [Fact]
    public void Empty_is_not_null_except_for_the_parent_which_is_a_root_as_in_redis()
    {
        var node = new ResponseNode("resp_empty", "", Conversation, 1, 1, [[]], Response: [], OutputIds: []);

        var decoded = RoundTrip(node);

        Assert.Null(decoded.ParentId);
        Assert.Equal([], decoded.Response!);
        Assert.Equal([], decoded.OutputIds!);
        Assert.Equal([[]], decoded.Added);
    }

    [Fact]
    public void The_header_reads_without_decoding_and_checks_the_tenant_and_id_it_names()
    {
        var node = new ResponseNode("resp_x", "resp_p", Conversation, 2, 42, [Text("a"), Text("b")], OutputCount: 1, OutputIds: ["", "msg_ö"]);
        var fields = NodeBlob.Read(Encode(node));

        Assert.Equal((42UL, 2, 1, false, true), (fields.Chain, fields.ItemCount, fields.OutputCount, fields.Synthetic, fields.HasParent));
        Assert.Equal("tenant-1", NodeBlob.Text(fields.Tenant));
        Assert.Equal("resp_p", NodeBlob.Text(fields.ParentId));
        Assert.True(fields.Is("tenant-1", "resp_x"));
        Assert.False(fields.Is("tenant-2", "resp_x"));
        Assert.False(fields.Is("tenant-1", "resp_y"));
        Assert.False(fields.Is("tenant", "resp_x"));
        Assert.True(fields.OutputIds.Contains("msg_ö"));
        Assert.True(fields.OutputIds.Contains(""));
        Assert.False(fields.OutputIds.Contains("msg_o"));
    }

    [Fact]
    public void The_items_part_is_what_NodeItemsCodec_encodes()
    {
        byte[][] items = [Text("one"), [], new byte[70_000]];
        var node = new ResponseNode("resp_items", null, Conversation, 3, 3, items, Response: Text("r"), OutputIds: ["a"]);

        Assert.Equal(NodeItemsCodec.Encode(items), NodeBlob.Read(Encode(node)).Items.ToArray());
    }

    [Fact]
    public void A_tenantless_key_is_its_own_tenant()
    {
        var node = new ResponseNode("resp_1", null, "no-slash", 0, 0, []);

        Assert.True(NodeBlob.Read(Encode(node)).Is("no-slash", "resp_1"));
    }

    [Fact]
    public void Writing_fills_exactly_the_encoded_length()
    {
        var node = new ResponseNode("resp_w", "resp_p", Conversation, 1, 9, [Text("x")], Response: Text("r"), OutputIds: ["o"]);
        var blob = new byte[NodeBlob.EncodedLength(node) + 1];
        blob[^1] = 0xAB;

        NodeBlob.Write(node, blob.AsSpan(0, blob.Length - 1));

        Assert.Equal(0xAB, blob[^1]); // nothing written past it
        AssertSame(node, NodeBlob.Decode(blob.AsSpan(0, blob.Length - 1)));
    }

    [Theory]
    [InlineData("", "")]
    [InlineData("abc", "abc")]
    [InlineData("é", "é")]
    [InlineData("😀x", "😀x")]
    [InlineData("ab", "abc")]
    [InlineData("abc", "ab")]
    [InlineData("é", "e")]
    public void Text_equality_compares_utf8_with_utf16(string stored, string asked)
    {
        var long1 = new string('x', 1000) + stored;
        var long2 = new string('x', 1000) + asked;
        Assert.Equal(stored == asked, NodeBlob.TextEquals(Encoding.UTF8.GetBytes(stored), asked));
        Assert.Equal(stored == asked, NodeBlob.TextEquals(Encoding.UTF8.GetBytes(long1), long2)); // longer than one chunk
    }

    [Fact]
    public void Keys_hash_the_same_pair_the_same_way_from_text_or_utf8_and_keep_tenant_and_name_apart()
    {
        Assert.Equal(TenantKey.Of("tenant", "resp_é"), TenantKey.Of(Text("tenant"), Text("resp_é")));
        Assert.NotEqual(TenantKey.Of("tenant", "resp_1"), TenantKey.Of("tenant", "resp_2"));
        Assert.NotEqual(TenantKey.Of("ab", "c"), TenantKey.Of("a", "bc"));
        var longName = new string('é', 400); // past the stack buffer
        Assert.Equal(TenantKey.Of("tenant", longName), TenantKey.Of(Text("tenant"), Text(longName)));
    }

    private static ResponseNode RoundTrip(ResponseNode node) => NodeBlob.Decode(Encode(node));

    private static byte[] Encode(ResponseNode node)
    {
        var blob = new byte[NodeBlob.EncodedLength(node)];
        NodeBlob.Write(node, blob);
        return blob;
    }

    /// <summary>Every field: what a path keeps, and what retrieve and item references need.</summary>
    private static void AssertSame(ResponseNode expected, ResponseNode actual)
    {
        Assert.Equal(expected.Id, actual.Id);
        ResponseTreeStoreContractTests.AssertSameInPath(expected, actual);
        Assert.Equal(expected.Response, actual.Response);
        Assert.Equal(expected.OutputCount, actual.OutputCount);
        Assert.Equal(expected.OutputIds, actual.OutputIds);
    }

    private static byte[] Text(string text) => Encoding.UTF8.GetBytes(text);
}
