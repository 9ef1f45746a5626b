using CodexLb.Gateway.Hosting;
using CodexLb.Gateway.Routing;
using CodexLb.Grains.Abstractions;
using CodexLb.Protocol.Errors;
using Microsoft.Extensions.Options;

namespace CodexLb.Gateway.Keys;

/// <summary>A turn's admission: the turn to charge, or the error to answer.</summary>
public readonly record struct Admission(KeyTurn? Turn, OpenAIError? Error);

/// <summary>
/// Admits each turn under its key's rules before it is routed: the model allow-list (here, no call), then, only for a
/// key that has a limit, one call to the key's grain, which counts the turn cluster-wide. A key without limits costs
/// no grain call; its turn is counted in the next usage report.
/// </summary>
public sealed class KeyAdmissions(IGrainFactory grains, ClientKeyStore keys, UsageRecorder recorder, IOptions<GatewayOptions> options)
{
    private readonly TimeSpan _timeout = options.Value.OwnerTimeout;
    private readonly HashSet<string> _listedModels = new(options.Value.Models, StringComparer.Ordinal);

    /// <summary>Model names longer than this are cut before they are counted (the name is the client's string).</summary>
    private const int MaxModelLength = 128;

    public async ValueTask<Admission> AdmitAsync(ClientKey client, string? requestedModel, CancellationToken cancellationToken)
    {
        // A websocket authenticated once: its key may have been rotated away or given other limits since.
        if (keys.Current(client) is not { } key) return new Admission(null, ProxyErrors.InvalidApiKey());
        if (!key.Allows(requestedModel))
        {
            KeyMetrics.Refused(key, "model");
            return new Admission(null, KeyErrors.ModelNotAllowed(key, requestedModel));
        }
        var model = requestedModel is null ? "unspecified" : requestedModel.Length <= MaxModelLength ? requestedModel : requestedModel[..MaxModelLength];
        if (key.Limits.Any)
        {
            KeyAdmission admission;
            try
            {
                admission = await AdmitByGrainAsync(key, model, cancellationToken);
            }
            catch (Exception ex) when (OwnerFailures.IsTransient(ex))
            {
                return new Admission(null, KeyErrors.LimitsUnreachable());
            }
            if (!admission.IsAdmitted)
            {
                KeyMetrics.Refused(key, Reason(admission.Refused));
                return new Admission(null, KeyErrors.Refused(key, admission));
            }
        }
        else
        {
            recorder.Add(key.UsageKey, model, 1, 0, 0);
        }
        var label = ModelLabel(key, model);
        KeyMetrics.Requests.Add(1, key.Name, label);
        return new Admission(new KeyTurn(key, model, label, recorder), null);
    }

    // Apart from AdmitAsync: the lambda's captures would make a closure on every admission, keys without limits too.
    private Task<KeyAdmission> AdmitByGrainAsync(ClientKey key, string model, CancellationToken cancellationToken) =>
        OwnerFailures.CallAsync(() => grains.GetGrain<IClientKeyGrain>(key.UsageKey).Admit(key.Limits, model), _timeout, cancellationToken);

    /// <summary>The model as a metric label: a configured name, else "other" (a client must not mint label values).</summary>
    private string ModelLabel(ClientKey key, string model) =>
        _listedModels.Contains(model) || Array.IndexOf(key.Models, model) >= 0 ? model : "other";

    private static string Reason(KeyLimit limit) => limit switch
    {
        KeyLimit.TokensPerDay => "tokens_per_day",
        KeyLimit.TokensPerMinute => "tokens_per_minute",
        _ => "requests_per_minute",
    };
}
