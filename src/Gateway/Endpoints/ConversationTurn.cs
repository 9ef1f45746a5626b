using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using CodexLb.Protocol.Events;
using CodexLb.Gateway.Routing;

namespace CodexLb.Gateway.Endpoints;

/// <summary>
/// One response running in a conversation object (<see cref="ConversationResponses"/>): it keeps the output items as
/// they stream (<c>response.output_item.done</c>; a provider may send <c>response.completed</c> with an empty output),
/// and adds the input and output to the conversation before the terminal event reaches the client, so a client that
/// saw the response completed finds it in the conversation, and one that did not may retry without a gap.
/// </summary>
public sealed class ConversationTurn(ConversationResponses responses, string tenant, string conversationId, long startedAtVersion,
    string? startedAfter, ulong inputHash, byte[][] input)
{
    private readonly List<byte[]> _output = [];

    /// <summary>The response this one continues (the conversation's head), or null when it went with the items.</summary>
    public string? StartedAfter => startedAfter;

    /// <summary>The conversation's last response, when this request is taken for its client's retry of it.</summary>
    public string? RetryOf { get; init; }

    /// <summary>Every event on its way to the client: output items are kept.</summary>
    public void Observe(TurnEvent e)
    {
        if (e.Type == EventTypes.OutputItemDone && EventReader.ReadRawProperty(e.Data, "item"u8) is { } item) _output.Add(item);
    }

    /// <summary>
    /// Before <paramref name="terminal"/> goes to the client: a completed response is added to the conversation, whether
    /// or not the client is still there (the response was generated; the conversation has it, as the API's would). Null
    /// when that is done (or nothing is to be added); the error to end the response with when the conversation could not
    /// be reached (retryable: the client's retry runs the response again from the same place).
    /// </summary>
    public async Task<OpenAIError?> EndAsync(TurnEvent terminal)
    {
        if (terminal.Type != EventTypes.Completed) return null;
        var responseId = terminal.Completion?.ResponseId ?? EventReader.ReadResponseId(terminal.Data);
        if (responseId is null) return null;
        try
        {
            await responses.AddAsync(tenant, conversationId, new ConversationResponse(responseId, startedAtVersion, startedAfter, inputHash, [.. input, .. _output]));
            return null;
        }
        catch (Exception ex) when (OwnerFailures.IsTransient(ex))
        {
            return ProxyErrors.OwnerUnreachable();
        }
    }
}
