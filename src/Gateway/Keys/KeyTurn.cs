using CodexLb.Protocol.Events;

namespace CodexLb.Gateway.Keys;

/// <summary>An admitted turn of a key: what its usage is charged to when its terminal event arrives.</summary>
public sealed class KeyTurn(ClientKey key, string model, string modelLabel, UsageRecorder recorder)
{
    public ClientKey Key => key;

    /// <summary>Charges the response's usage (input + output tokens) to the key: counted here, reported in the next batch.</summary>
    public void Ended(EventSummary summary)
    {
        var (input, output) = (Math.Max(0, summary.InputTokens ?? 0), Math.Max(0, summary.OutputTokens ?? 0));
        if (input == 0 && output == 0) return;
        recorder.Add(key.UsageKey, model, 0, input, output);
        KeyMetrics.Tokens.Add(input, key.Name, modelLabel, "input");
        KeyMetrics.Tokens.Add(output, key.Name, modelLabel, "output");
    }
}
