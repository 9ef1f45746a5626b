namespace CodexLb.Grains.Abstractions;

/// <summary>
/// The Responses API beyond create, for gateways: retrieve, delete, cancel and input items are answered from the
/// tenant's response tree (never forwarded: every tenant shares the upstream credentials, so an id the tenant was not
/// issued here must not reach the provider in its name); input token counting and compaction go to the provider's HTTP
/// API, with a <c>previous_response_id</c> expanded into the context it names. A stateless worker on each silo.
/// </summary>
public interface IResponsesApiGrain : IGrainWithIntegerKey
{
    Task<ApiReply> Retrieve(string tenant, string responseId);

    /// <summary>Where a background response's events are streamed again from (<see cref="ResponseReplay"/>).</summary>
    Task<ResponseReplay> Replay(string tenant, string responseId);

    Task<ApiReply> Delete(string tenant, string responseId);

    Task<ApiReply> Cancel(string tenant, string responseId);

    Task<ApiReply> ListInputItems(string tenant, string responseId, int limit, bool ascending, string? after);

    /// <summary>POSTs a body to the provider's <c>responses/{operation}</c> (<c>input_tokens</c> or <c>compact</c>).</summary>
    [ResponseTimeout("00:05:00")] // a compaction is a generation: longer than the default 30 s grain call timeout
    Task<ApiReply> Forward(string tenant, string operation, byte[] body);
}

/// <summary>An HTTP answer for the client: status, JSON body (an OpenAI error when not 2xx) and, when retryable, Retry-After.</summary>
[GenerateSerializer, Immutable]
public sealed record ApiReply([property: Id(0)] int Status, [property: Id(1)] byte[] Body, [property: Id(2)] int? RetryAfterSeconds = null);
