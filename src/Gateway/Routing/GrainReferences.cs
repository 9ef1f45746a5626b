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
        var types = Volatile.Read(ref Resolved<T>.Types) ?? Resolve<T>(grains);
        return (T)grains.GetGrain(GrainId.Create(types.Grain, key), types.Interface);
    }

    private static GrainTypes Resolve<T>(IGrainFactory grains) where T : IGrainWithStringKey
    {
        var probe = (GrainReference)(object)grains.GetGrain<T>("-");
        var types = new GrainTypes(probe.GrainId.Type, probe.InterfaceType);
        Volatile.Write(ref Resolved<T>.Types, types);
        return types;
    }

    /// <summary>
    /// A class, published by one reference write: the two ids as a nullable struct were written field by field, and a
    /// request racing the first one could read the grain type with a default interface type. Orleans then made an untyped
    /// reference, and the cast to the interface failed: a 500 on a silo's first concurrent turns (seen once in
    /// SiloJoinTests).
    /// </summary>
    private sealed record GrainTypes(GrainType Grain, GrainInterfaceType Interface);

    private static class Resolved<T>
    {
        public static GrainTypes? Types;
    }
}
