using System.Net;
using CodexLb.Tests.Infrastructure;

namespace CodexLb.Tests.Security;

/// <summary>
/// Issue 10, finding 6: every never-issued <c>previous_response_id</c> created a grain activation (3,000 ids, 3,000
/// activations, +18 MiB). A lookup is one read of the response tree on a stateless worker, and an unknown id is a 400.
/// </summary>
[Collection(ProductCollection.Name)]
public sealed class UnknownResponseIdTests(ProductFixture product)
{
    private const int Ids = 200;

    [Fact]
    public async Task Never_issued_previous_response_ids_are_400_each_and_activate_no_grain()
    {
        // Warm: the lookup's own worker (one per silo) is up before counting.
        var warm = await SseClient.PostAsync(product.Http, "/v1/responses",
            Items.Body([Items.Message("user", "hi")], stream: false, previousResponseId: "resp_never_issued_warm"));
        Assert.Equal(HttpStatusCode.BadRequest, warm.Status);
        var before = await ActivationsAsync();
        var upstream = product.Simulator.Ledger.Requests.Count;

        for (var i = 0; i < Ids; i++)
        {
            var id = $"resp_never_issued_{i}_{Guid.NewGuid():N}";
            var answer = await SseClient.PostAsync(product.Http, "/v1/responses", Items.Body([Items.Message("user", "continue")], stream: false, previousResponseId: id));
            Assert.Equal(HttpStatusCode.BadRequest, answer.Status);
            var error = answer.Json.GetProperty("error");
            Assert.Equal("previous_response_not_found", error.GetProperty("code").GetString());
            Assert.Equal("previous_response_id", error.GetProperty("param").GetString());
        }

        var after = await ActivationsAsync();
        // Other tests of this collection may leave activations that deactivate meanwhile, never ones that appear.
        foreach (var (type, count) in after)
            Assert.True(count <= before.GetValueOrDefault(type) + 2, $"{Ids} unknown ids activated {count - before.GetValueOrDefault(type)} grains of {type}");
        Assert.Equal(upstream, product.Simulator.Ledger.Requests.Count);
    }

    /// <summary>Activations per grain type in the product's cluster (its one silo).</summary>
    private async Task<Dictionary<string, int>> ActivationsAsync()
    {
        var statistics = await product.Grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        return statistics.GroupBy(s => s.GrainType).ToDictionary(g => g.Key, g => g.Sum(s => s.ActivationCount));
    }
}
