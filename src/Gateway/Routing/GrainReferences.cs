namespace CodexLb.Gateway.Routing;

/// <summary>
/// References to string-keyed grains for the per-turn path. Orleans 10.4's <c>GetGrain&lt;T&gt;(key)</c> resolves the
/// interface's grain type through reflection (custom attributes, type-name formatting) on every call, ~1.5% of a turn's
/// CPU; this resolves it once per interface and builds each reference from its id.
/// </summary>
public static class GrainReferences
{
    public static T ByKey<T>(this IGrainFactory grains, string key) where T : IGrainWithStringKey
    {
        var (grainType, interfaceType) = Resolved<T>.Types ??= Resolve<T>(grains);
        return (T)grains.GetGrain(GrainId.Create(grainType, key), interfaceType);
    }

    private static (GrainType, GrainInterfaceType) Resolve<T>(IGrainFactory grains) where T : IGrainWithStringKey
    {
        var probe = (GrainReference)(object)grains.GetGrain<T>("-");
        return (probe.GrainId.Type, probe.InterfaceType);
    }

    private static class Resolved<T>
    {
        public static (GrainType, GrainInterfaceType)? Types;
    }
}
