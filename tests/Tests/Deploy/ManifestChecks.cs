using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace CodexLb.Tests.Deploy;

/// <summary>
/// What the schemas cannot see: the points of the rendered manifests the product depends on. Each check returns
/// its problems (empty = fine), so a test can also prove that a check catches a broken manifest.
/// </summary>
public static class ManifestChecks
{
    public const string Namespace = "codexlb";
    public const int DrainDeadlineSeconds = 30; // CodexLb:Gateway:DrainTimeout, the app's own drain bound on SIGTERM
    private static readonly string[] WorkloadKinds = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"];

    public static readonly Dictionary<string, string> RequiredIngressAnnotations = new()
    {
        ["nginx.ingress.kubernetes.io/proxy-read-timeout"] = "3600",
        ["nginx.ingress.kubernetes.io/proxy-send-timeout"] = "3600",
        ["nginx.ingress.kubernetes.io/proxy-buffering"] = "off",
        ["nginx.ingress.kubernetes.io/proxy-request-buffering"] = "off",
        ["nginx.ingress.kubernetes.io/proxy-body-size"] = "32m",
        ["nginx.ingress.kubernetes.io/proxy-http-version"] = "1.1",
    };

    // ---- checks ------------------------------------------------------------------------------------------------

    public static List<string> GracePeriods(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        foreach (var component in new[] { "silo", "gateway" })
        {
            if (Workload(objects, component) is not { } workload) { problems.Add($"no {component} workload"); continue; }
            var pod = PodSpec(workload);
            var grace = pod.Prop("terminationGracePeriodSeconds")?.GetInt32() ?? 30;
            var container = MainContainer(workload);
            var preStop = container.Prop("lifecycle")?.Prop("preStop");
            var sleep = preStop is { } hook ? PreStopSleepSeconds(hook) : null;
            if (sleep is null) problems.Add($"{component}: no preStop sleep (load balancers need a moment before SIGTERM)");
            if (component == "silo" && grace <= 30) problems.Add($"silo: terminationGracePeriodSeconds {grace} must exceed 30");
            if (grace <= DrainDeadlineSeconds + (sleep ?? 0))
                problems.Add($"{component}: terminationGracePeriodSeconds {grace} must exceed preStop ({sleep ?? 0} s) + the drain deadline ({DrainDeadlineSeconds} s)");
        }
        return problems;
    }

    public static List<string> Probes(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        foreach (var component in new[] { "silo", "gateway" })
        {
            if (Workload(objects, component) is not { } workload) { problems.Add($"no {component} workload"); continue; }
            var container = MainContainer(workload);
            foreach (var (probe, path) in new[] { ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz") })
            {
                var get = container.Prop(probe)?.Prop("httpGet");
                if (get is null) { problems.Add($"{component}: no {probe} httpGet"); continue; }
                if (get.Value.Prop("path")?.GetString() != path) problems.Add($"{component}: {probe} path is not {path}");
                if (ResolvePort(container, get.Value.Prop("port")) != 8080) problems.Add($"{component}: {probe} does not probe the http port 8080");
            }
            if (Env(container, "ASPNETCORE_URLS") is { } urls && urls.Prop("value")?.GetString() is { } value && !value.EndsWith(":8080", StringComparison.Ordinal))
                problems.Add($"{component}: ASPNETCORE_URLS {value} does not listen on 8080");
        }
        return problems;
    }

    public static List<string> DownwardApi(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        if (Workload(objects, "silo") is not { } silo) return ["no silo workload"];
        var container = MainContainer(silo);
        var labels = TemplateLabels(silo);
        foreach (var (name, field) in new[] { ("POD_IP", "status.podIP"), ("POD_NAME", "metadata.name"), ("POD_NAMESPACE", "metadata.namespace"),
                     ("ORLEANS_SERVICE_ID", "metadata.labels['orleans/serviceId']"), ("ORLEANS_CLUSTER_ID", "metadata.labels['orleans/clusterId']") })
        {
            var actual = Env(container, name)?.Prop("valueFrom")?.Prop("fieldRef")?.Prop("fieldPath")?.GetString();
            if (actual != field) problems.Add($"silo: env {name} must come from fieldRef {field} (is {actual ?? "absent"})");
        }
        var config = ConfigFor(objects, container);
        foreach (var (label, key) in new[] { ("orleans/serviceId", "ORLEANS_SERVICE_ID"), ("orleans/clusterId", "ORLEANS_CLUSTER_ID") })
        {
            labels.TryGetValue(label, out var labelValue);
            var configValue = config.GetValueOrDefault(key);
            if (string.IsNullOrEmpty(labelValue) || labelValue != configValue)
                problems.Add($"silo: pod label {label}={labelValue} differs from ConfigMap {key}={configValue} (gateways read the ConfigMap)");
        }
        if (Workload(objects, "gateway") is { } gateway)
            foreach (var key in new[] { "ORLEANS_SERVICE_ID", "ORLEANS_CLUSTER_ID", "CodexLb__Redis__ConnectionString", "CodexLb__Cluster__GatewayPort" })
                if (ConfigFor(objects, MainContainer(gateway)).GetValueOrDefault(key) is var g && g != config.GetValueOrDefault(key))
                    problems.Add($"gateway: {key}={g} differs from the silos' {config.GetValueOrDefault(key)}");
        var ports = Items(container.Prop("ports")).Select(p => p.Prop("containerPort")?.GetInt32()).ToHashSet();
        foreach (var (key, port) in new[] { ("CodexLb__Cluster__SiloPort", 11111), ("CodexLb__Cluster__GatewayPort", 30000) })
        {
            var configured = int.TryParse(config.GetValueOrDefault(key), out var p) ? p : port;
            if (configured != port || !ports.Contains(port)) problems.Add($"silo: {key} ({configured}) must be {port} and a container port");
        }
        if (!ports.Contains(8080)) problems.Add("silo: no container port 8080");
        return problems;
    }

    public static List<string> DisruptionBudgets(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        foreach (var component in new[] { "silo", "gateway" })
        {
            if (Workload(objects, component) is not { } workload) { problems.Add($"no {component} workload"); continue; }
            var labels = TemplateLabels(workload);
            var budgets = OfKind(objects, "PodDisruptionBudget").Where(b => Selects(b.Prop("spec")?.Prop("selector"), labels)).ToList();
            if (budgets.Count == 0) problems.Add($"{component}: no PodDisruptionBudget selects its pods");
            foreach (var b in budgets)
                if (b.Prop("spec")?.Prop("maxUnavailable") is null && b.Prop("spec")?.Prop("minAvailable") is null)
                    problems.Add($"{component}: PodDisruptionBudget {Name(b)} sets neither maxUnavailable nor minAvailable");
        }
        return problems;
    }

    public static List<string> Autoscaler(IReadOnlyList<JsonElement> objects)
    {
        if (Workload(objects, "gateway") is not { } gateway) return ["no gateway workload"];
        var problems = new List<string>();
        var hpas = OfKind(objects, "HorizontalPodAutoscaler").Where(h =>
            h.Prop("spec")?.Prop("scaleTargetRef") is { } t && t.Prop("kind")?.GetString() == gateway.Prop("kind")?.GetString()
            && t.Prop("apiVersion")?.GetString() == "apps/v1" && t.Prop("name")?.GetString() == Name(gateway)).ToList();
        if (gateway.Prop("kind")?.GetString() != "Deployment") problems.Add("gateway: not a Deployment");
        if (hpas.Count != 1) return [.. problems, $"gateway: {hpas.Count} HorizontalPodAutoscalers target Deployment {Name(gateway)} (want 1)"];
        var hpa = hpas[0];
        if (hpa.Prop("apiVersion")?.GetString() != "autoscaling/v2") problems.Add("HPA is not autoscaling/v2");
        if (!Items(hpa.Prop("spec")?.Prop("metrics")).Any(m => m.Prop("type")?.GetString() == "Resource" && m.Prop("resource")?.Prop("name")?.GetString() == "cpu"))
            problems.Add("HPA has no cpu Resource metric");
        var min = hpa.Prop("spec")?.Prop("minReplicas")?.GetInt32() ?? 1;
        var max = hpa.Prop("spec")?.Prop("maxReplicas")?.GetInt32() ?? 0;
        if (min < 1 || max < min) problems.Add($"HPA replicas {min}..{max} are not a range");
        if (MainContainer(gateway).Prop("resources")?.Prop("requests")?.Prop("cpu") is null)
            problems.Add("gateway: no cpu request (CPU utilization is relative to it)");
        return problems;
    }

    public static List<string> Ingress(IReadOnlyList<JsonElement> objects)
    {
        var ingresses = OfKind(objects, "Ingress").ToList();
        if (ingresses.Count == 0) return ["no Ingress"];
        var problems = new List<string>();
        var gatewayServices = Workload(objects, "gateway") is { } gateway
            ? OfKind(objects, "Service").Where(s => Selects(s.Prop("spec")?.Prop("selector"), TemplateLabels(gateway), isService: true)).ToList()
            : [];
        foreach (var ingress in ingresses)
        {
            if (ingress.Prop("apiVersion")?.GetString() != "networking.k8s.io/v1") problems.Add($"Ingress {Name(ingress)} is not networking.k8s.io/v1");
            var annotations = Map(ingress.Prop("metadata")?.Prop("annotations"));
            foreach (var (key, value) in RequiredIngressAnnotations)
                if (annotations.GetValueOrDefault(key) != value) problems.Add($"Ingress {Name(ingress)}: annotation {key} must be \"{value}\" (is {annotations.GetValueOrDefault(key) ?? "absent"})");
            var paths = Items(ingress.Prop("spec")?.Prop("rules")).SelectMany(r => Items(r.Prop("http")?.Prop("paths"))).ToList();
            foreach (var required in new[] { "/v1", "/backend-api/codex" })
                if (!paths.Any(p => p.Prop("path")?.GetString() == required)) problems.Add($"Ingress {Name(ingress)}: no path {required}");
            foreach (var p in paths)
            {
                var path = p.Prop("path")?.GetString();
                if (path is "/" or "/metrics" or "/healthz" or "/readyz") problems.Add($"Ingress {Name(ingress)}: {path} must stay internal");
                var service = p.Prop("backend")?.Prop("service");
                var target = gatewayServices.FirstOrDefault(s => Name(s) == service?.Prop("name")?.GetString());
                if (target.ValueKind == JsonValueKind.Undefined) { problems.Add($"Ingress {Name(ingress)}: {path} does not route to a gateway Service"); continue; }
                var port = service?.Prop("port");
                if (!Items(target.Prop("spec")?.Prop("ports")).Any(sp =>
                        (port?.Prop("name")?.GetString() is { } n && sp.Prop("name")?.GetString() == n)
                        || (port?.Prop("number")?.GetInt32() is { } num && sp.Prop("port")?.GetInt32() == num)))
                    problems.Add($"Ingress {Name(ingress)}: {path} names a port Service {Name(target)} does not have");
            }
        }
        return problems;
    }

    /// <summary>
    /// Clients reach gateways only: silos do not serve the client API (CodexLb__Silo__ServeClients is not true) and hold no
    /// client keys, and no workload runs the bundled upstream simulator in-process (the images do not carry it).
    /// </summary>
    public static List<string> ClientsReachGatewaysOnly(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        if (Workload(objects, "silo") is not { } silo) return ["no silo workload"];
        var siloSettings = Settings(objects, MainContainer(silo));
        if (siloSettings.GetValueOrDefault("CodexLb__Silo__ServeClients") is { } serve && serve.Equals("true", StringComparison.OrdinalIgnoreCase))
            problems.Add("silo: CodexLb__Silo__ServeClients is true (clients must go through the gateways)");
        foreach (var from in Items(MainContainer(silo).Prop("envFrom")))
            if (from.Prop("secretRef")?.Prop("name")?.GetString() is { } name)
                foreach (var secret in OfKind(objects, "Secret").Where(s => Name(s) == name))
                    if (Map(secret.Prop("stringData")).Keys.Concat(Map(secret.Prop("data")).Keys).Any(k => k.StartsWith("CodexLb__Gateway__ApiKeys", StringComparison.Ordinal)))
                        problems.Add($"silo: gets client API keys from Secret {name} although it serves no clients");
        foreach (var workload in Workloads(objects))
            foreach (var container in Containers(workload))
                if (Settings(objects, container).GetValueOrDefault("CodexLb__Upstream__UseSimulator") is { } sim && sim.Equals("true", StringComparison.OrdinalIgnoreCase))
                    problems.Add($"{Name(workload)}: CodexLb__Upstream__UseSimulator is true (the images carry no simulator)");
        return problems;
    }

    /// <summary>The settings a container sees: its ConfigMaps (envFrom), then its own literal env values.</summary>
    private static Dictionary<string, string> Settings(IReadOnlyList<JsonElement> objects, JsonElement container)
    {
        var values = ConfigFor(objects, container);
        foreach (var env in Items(container.Prop("env")))
            if (env.Prop("name")?.GetString() is { } name && env.Prop("value")?.GetString() is { } value) values[name] = value;
        return values;
    }

    // An OpenAI-style key, a long mixed-case token with digits, or a JWT.
    private static readonly Regex RealLookingKey = new(@"sk-[A-Za-z0-9_\-]{16,}|^(?=.*\d)(?=.*[a-z])(?=.*[A-Z])[A-Za-z0-9+/_\-]{32,}={0,2}$|^ey[A-Za-z0-9_\-]{20,}\.", RegexOptions.Compiled);

    public static List<string> Secrets(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        var secrets = OfKind(objects, "Secret").ToList();
        foreach (var secret in secrets)
        {
            if (Map(secret.Prop("data")).Count > 0) problems.Add($"Secret {Name(secret)}: has base64 data (only stringData placeholders belong in the repository)");
            foreach (var (key, value) in Map(secret.Prop("stringData")))
            {
                if (!value.Contains("REPLACE_ME", StringComparison.Ordinal) || !value.Contains("placeholder", StringComparison.OrdinalIgnoreCase))
                    problems.Add($"Secret {Name(secret)}: {key} is not marked as a placeholder (REPLACE_ME ... placeholder)");
                if (RealLookingKey.IsMatch(value)) problems.Add($"Secret {Name(secret)}: {key} looks like a real credential");
            }
        }
        foreach (var config in OfKind(objects, "ConfigMap"))
            foreach (var (key, value) in Map(config.Prop("data")))
                if (RealLookingKey.IsMatch(value) || key.EndsWith("ApiKey", StringComparison.OrdinalIgnoreCase) || key.Contains("ApiKeys", StringComparison.OrdinalIgnoreCase))
                    problems.Add($"ConfigMap {Name(config)}: {key} is a credential; it belongs in a Secret");
        var allKeys = secrets.SelectMany(s => Map(s.Prop("stringData")).Keys).ToHashSet();
        foreach (var key in new[] { "CodexLb__Upstream__ApiKey", "CodexLb__Gateway__ApiKeys__0" })
            if (!allKeys.Contains(key)) problems.Add($"no Secret provides {key}");
        // Every Secret and ConfigMap a container reads must be rendered.
        foreach (var workload in Workloads(objects))
            foreach (var container in Containers(workload))
            {
                foreach (var from in Items(container.Prop("envFrom")))
                {
                    if (from.Prop("secretRef")?.Prop("name")?.GetString() is { } s && !secrets.Any(x => Name(x) == s))
                        problems.Add($"{Name(workload)}: envFrom Secret {s} is not rendered");
                    if (from.Prop("configMapRef")?.Prop("name")?.GetString() is { } c && !OfKind(objects, "ConfigMap").Any(x => Name(x) == c))
                        problems.Add($"{Name(workload)}: envFrom ConfigMap {c} is not rendered");
                }
                foreach (var env in Items(container.Prop("env")))
                    if (env.Prop("valueFrom")?.Prop("secretKeyRef") is { } r
                        && !secrets.Any(x => Name(x) == r.Prop("name")?.GetString() && Map(x.Prop("stringData")).ContainsKey(r.Prop("key")?.GetString() ?? "")))
                        problems.Add($"{Name(workload)}: secretKeyRef {r.Prop("name")}/{r.Prop("key")} is not rendered");
            }
        return problems;
    }

    public static List<string> ContainersAreBoundedAndNonRoot(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        var workloads = Workloads(objects).ToList();
        if (workloads.Count == 0) return ["no workloads"];
        foreach (var workload in workloads)
        {
            var pod = PodSpec(workload);
            var podSecurity = pod.Prop("securityContext");
            foreach (var container in Containers(workload))
            {
                var at = $"{workload.Prop("kind")?.GetString()} {Name(workload)} container {container.Prop("name")?.GetString()}";
                foreach (var section in new[] { "requests", "limits" })
                    foreach (var resource in new[] { "cpu", "memory" })
                        if (container.Prop("resources")?.Prop(section)?.Prop(resource) is null) problems.Add($"{at}: no {resource} {section}");
                var security = container.Prop("securityContext");
                var nonRoot = security?.Prop("runAsNonRoot") ?? podSecurity?.Prop("runAsNonRoot");
                if (nonRoot?.ValueKind != JsonValueKind.True) problems.Add($"{at}: runAsNonRoot is not true");
                var user = security?.Prop("runAsUser") ?? podSecurity?.Prop("runAsUser");
                if (user is { ValueKind: JsonValueKind.Number } u && u.GetInt64() == 0) problems.Add($"{at}: runAsUser 0");
                if (security?.Prop("allowPrivilegeEscalation")?.ValueKind != JsonValueKind.False) problems.Add($"{at}: allowPrivilegeEscalation is not false");
                if (!Items(security?.Prop("capabilities")?.Prop("drop")).Any(c => c.GetString() == "ALL")) problems.Add($"{at}: capabilities are not all dropped");
                var image = container.Prop("image")?.GetString() ?? "";
                var tag = image.Contains('@') ? "digest" : image[(image.LastIndexOf('/') + 1)..].Split(':').ElementAtOrDefault(1);
                if (string.IsNullOrEmpty(tag) || tag == "latest") problems.Add($"{at}: image {image} has no pinned tag");
            }
        }
        return problems;
    }

    public static List<string> ServicesMatchPods(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        var workloads = Workloads(objects).ToList();
        foreach (var service in OfKind(objects, "Service"))
        {
            var selector = service.Prop("spec")?.Prop("selector");
            if (Map(selector).Count == 0) { problems.Add($"Service {Name(service)} has no selector"); continue; }
            var backing = workloads.Where(w => Selects(selector, TemplateLabels(w), isService: true)).ToList();
            if (backing.Count == 0) { problems.Add($"Service {Name(service)} selects no workload's pods"); continue; }
            foreach (var port in Items(service.Prop("spec")?.Prop("ports")))
            {
                var target = port.Prop("targetPort") ?? port.Prop("port");
                if (!backing.Any(w => Containers(w).Any(c => ResolvePort(c, target) is not null)))
                    problems.Add($"Service {Name(service)}: targetPort {target} is no container port of its pods");
            }
        }
        return problems;
    }

    public static List<string> Metadata(IReadOnlyList<JsonElement> objects)
    {
        var problems = new List<string>();
        foreach (var o in objects)
        {
            var kind = o.Prop("kind")?.GetString();
            var ns = o.Prop("metadata")?.Prop("namespace")?.GetString();
            if (kind == "Namespace" ? Name(o) != Namespace : ns != Namespace) problems.Add($"{kind} {Name(o)}: not in namespace {Namespace}");
            var labels = Map(o.Prop("metadata")?.Prop("labels"));
            if (labels.GetValueOrDefault("app.kubernetes.io/part-of") != "codexlb") problems.Add($"{kind} {Name(o)}: no common label app.kubernetes.io/part-of=codexlb");
        }
        foreach (var workload in Workloads(objects))
            if (TemplateLabels(workload).GetValueOrDefault("app.kubernetes.io/part-of") != "codexlb")
                problems.Add($"{Name(workload)}: pod template lacks the common labels");
        foreach (var component in new[] { "silo", "gateway" })
        {
            if (Workload(objects, component) is not { } workload) { problems.Add($"no {component} workload"); continue; }
            var annotations = Map(workload.Prop("spec")?.Prop("template")?.Prop("metadata")?.Prop("annotations"));
            if (annotations.GetValueOrDefault("prometheus.io/scrape") != "true" || annotations.GetValueOrDefault("prometheus.io/path") != "/metrics"
                || annotations.GetValueOrDefault("prometheus.io/port") != "8080")
                problems.Add($"{component}: pod template lacks prometheus.io scrape annotations for /metrics on 8080");
        }
        return problems;
    }

    public static List<string> Redis(IReadOnlyList<JsonElement> objects)
    {
        if (Workload(objects, "silo") is not { } silo) return ["no silo workload"];
        var connection = ConfigFor(objects, MainContainer(silo)).GetValueOrDefault("CodexLb__Redis__ConnectionString");
        if (string.IsNullOrEmpty(connection)) return ["silo: CodexLb__Redis__ConnectionString is not set (silos would run the embedded single-process default)"];
        var endpoint = connection.Split(',')[0];
        var host = endpoint.Split(':')[0];
        var port = endpoint.Contains(':') ? int.Parse(endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture) : 6379;
        var service = OfKind(objects, "Service").FirstOrDefault(s => Name(s) == host || $"{Name(s)}.{Namespace}.svc.cluster.local" == host);
        if (service.ValueKind == JsonValueKind.Undefined) return [$"Redis host {host} is no rendered Service"];
        if (!Items(service.Prop("spec")?.Prop("ports")).Any(p => p.Prop("port")?.GetInt32() == port)) return [$"Service {host} has no port {port}"];
        return Workloads(objects).Any(w => w.Prop("kind")?.GetString() == "StatefulSet" && Selects(service.Prop("spec")?.Prop("selector"), TemplateLabels(w), isService: true))
            ? [] : [$"Service {host} is not backed by a StatefulSet"];
    }

    public static List<string> SiloAntiAffinity(IReadOnlyList<JsonElement> objects)
    {
        if (Workload(objects, "silo") is not { } silo) return ["no silo workload"];
        var anti = PodSpec(silo).Prop("affinity")?.Prop("podAntiAffinity");
        var terms = Items(anti?.Prop("requiredDuringSchedulingIgnoredDuringExecution"))
            .Concat(Items(anti?.Prop("preferredDuringSchedulingIgnoredDuringExecution")).Select(p => p.Prop("podAffinityTerm") ?? default));
        return terms.Any(t => t.Prop("topologyKey")?.GetString() == "kubernetes.io/hostname" && Selects(t.Prop("labelSelector"), TemplateLabels(silo)))
            ? [] : ["silo: no pod anti-affinity on kubernetes.io/hostname selecting the silos"];
    }

    // ---- NetworkPolicy evaluation ------------------------------------------------------------------------------

    /// <summary>A pod (namespace labels + pod labels) or an outside address.</summary>
    public sealed record Peer(IReadOnlyDictionary<string, string> NamespaceLabels, IReadOnlyDictionary<string, string> PodLabels, IPAddress? Address = null)
    {
        public static Peer InNamespace(string ns, IReadOnlyDictionary<string, string> labels) =>
            new(new Dictionary<string, string> { ["kubernetes.io/metadata.name"] = ns }, labels);
        public static Peer Outside(string address) => new(new Dictionary<string, string>(), new Dictionary<string, string>(), IPAddress.Parse(address));
    }

    /// <summary>Whether the policies in the rendered set let <paramref name="from"/> open a TCP connection to <paramref name="to"/>:<paramref name="port"/>.</summary>
    public static bool Allows(IReadOnlyList<JsonElement> objects, Peer from, Peer to, int port) =>
        EgressAllows(objects, from, to, port) && IngressAllows(objects, from, to, port);

    /// <summary>The receiving side alone: do the policies selecting <paramref name="to"/> admit the connection?</summary>
    public static bool IngressAllows(IReadOnlyList<JsonElement> objects, Peer from, Peer to, int port) =>
        Direction(OfKind(objects, "NetworkPolicy").ToList(), subject: to, other: from, port, "Ingress", "ingress", "from");

    /// <summary>The sending side alone: do the policies selecting <paramref name="from"/> let the connection out?</summary>
    public static bool EgressAllows(IReadOnlyList<JsonElement> objects, Peer from, Peer to, int port) =>
        Direction(OfKind(objects, "NetworkPolicy").ToList(), subject: from, other: to, port, "Egress", "egress", "to");

    private static bool Direction(List<JsonElement> policies, Peer subject, Peer other, int port, string type, string rulesKey, string peersKey)
    {
        if (subject.Address is not null) return true; // outside the cluster: not subject to these policies
        var selecting = policies.Where(p =>
            p.Prop("metadata")?.Prop("namespace")?.GetString() is { } ns && subject.NamespaceLabels.GetValueOrDefault("kubernetes.io/metadata.name") == ns
            && Selects(p.Prop("spec")?.Prop("podSelector"), subject.PodLabels)
            && PolicyTypes(p).Contains(type)).ToList();
        if (selecting.Count == 0) return true; // not isolated in this direction
        return selecting.Any(p => Items(p.Prop("spec")?.Prop(rulesKey)).Any(rule =>
            (rule.Prop("ports") is not { ValueKind: JsonValueKind.Array } ports || ports.GetArrayLength() == 0
                || ports.EnumerateArray().Any(x => x.Prop("port")?.ValueKind == JsonValueKind.Number && x.Prop("port")!.Value.GetInt32() == port
                                                   && (x.Prop("protocol")?.GetString() ?? "TCP") == "TCP"))
            && (rule.Prop(peersKey) is not { ValueKind: JsonValueKind.Array } peers || peers.GetArrayLength() == 0
                || peers.EnumerateArray().Any(peer => PeerMatches(peer, other, p.Prop("metadata")!.Value.Prop("namespace")!.Value.GetString()!)))));
    }

    private static bool PeerMatches(JsonElement peer, Peer other, string policyNamespace)
    {
        if (peer.Prop("ipBlock") is { } block)
        {
            if (other.Address is null) return false; // pod addresses are private; the policies' ipBlocks exclude those ranges
            if (!IPNetwork.TryParse(block.Prop("cidr")?.GetString() ?? "", out var cidr) || !cidr.Contains(other.Address)) return false;
            return !Items(block.Prop("except")).Any(e => IPNetwork.TryParse(e.GetString() ?? "", out var x) && x.Contains(other.Address));
        }
        if (other.Address is not null) return false;
        var namespaceSelector = peer.Prop("namespaceSelector");
        var podSelector = peer.Prop("podSelector");
        var namespaceOk = namespaceSelector is null
            ? other.NamespaceLabels.GetValueOrDefault("kubernetes.io/metadata.name") == policyNamespace
            : Selects(namespaceSelector, other.NamespaceLabels);
        return namespaceOk && (podSelector is null || Selects(podSelector, other.PodLabels));
    }

    private static HashSet<string> PolicyTypes(JsonElement policy)
    {
        var declared = Items(policy.Prop("spec")?.Prop("policyTypes")).Select(t => t.GetString()!).ToHashSet();
        if (declared.Count > 0) return declared;
        return policy.Prop("spec")?.Prop("egress") is null ? ["Ingress"] : ["Ingress", "Egress"];
    }

    // ---- helpers -----------------------------------------------------------------------------------------------

    public static JsonElement? Prop(this JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement? Prop(this JsonElement? e, string name) => e is { } v ? v.Prop(name) : null;

    public static IEnumerable<JsonElement> Items(JsonElement? e) =>
        e is { ValueKind: JsonValueKind.Array } a ? a.EnumerateArray() : [];

    public static Dictionary<string, string> Map(JsonElement? e) =>
        e is { ValueKind: JsonValueKind.Object } o
            ? o.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText())
            : [];

    public static string Name(JsonElement o) => o.Prop("metadata")?.Prop("name")?.GetString() ?? "?";

    public static IEnumerable<JsonElement> OfKind(IEnumerable<JsonElement> objects, string kind) =>
        objects.Where(o => o.Prop("kind")?.GetString() == kind);

    public static IEnumerable<JsonElement> Workloads(IEnumerable<JsonElement> objects) =>
        objects.Where(o => WorkloadKinds.Contains(o.Prop("kind")?.GetString()));

    /// <summary>The workload whose pods carry <c>app.kubernetes.io/component=<paramref name="component"/></c>.</summary>
    public static JsonElement? Workload(IEnumerable<JsonElement> objects, string component)
    {
        var matches = Workloads(objects).Where(w => TemplateLabels(w).GetValueOrDefault("app.kubernetes.io/component") == component).ToList();
        return matches.Count == 1 ? matches[0] : null;
    }

    public static Dictionary<string, string> TemplateLabels(JsonElement workload) =>
        Map(workload.Prop("spec")?.Prop("template")?.Prop("metadata")?.Prop("labels"));

    public static JsonElement PodSpec(JsonElement workload) => workload.Prop("spec")?.Prop("template")?.Prop("spec") ?? default;

    public static IEnumerable<JsonElement> Containers(JsonElement workload) =>
        Items(PodSpec(workload).Prop("initContainers")).Concat(Items(PodSpec(workload).Prop("containers")));

    public static JsonElement MainContainer(JsonElement workload) => Items(PodSpec(workload).Prop("containers")).FirstOrDefault();

    public static JsonElement? Env(JsonElement container, string name) =>
        Items(container.Prop("env")).Where(e => e.Prop("name")?.GetString() == name).Select(e => (JsonElement?)e).FirstOrDefault();

    /// <summary>The ConfigMap values a container sees through envFrom (later sources win, as in Kubernetes).</summary>
    public static Dictionary<string, string> ConfigFor(IReadOnlyList<JsonElement> objects, JsonElement container)
    {
        var values = new Dictionary<string, string>();
        foreach (var from in Items(container.Prop("envFrom")))
            if (from.Prop("configMapRef")?.Prop("name")?.GetString() is { } name)
                foreach (var config in OfKind(objects, "ConfigMap").Where(c => Name(c) == name))
                    foreach (var (k, v) in Map(config.Prop("data"))) values[k] = v;
        return values;
    }

    /// <summary>A port reference (number or container port name) resolved against a container's ports.</summary>
    public static int? ResolvePort(JsonElement container, JsonElement? port)
    {
        var ports = Items(container.Prop("ports")).ToList();
        return port switch
        {
            { ValueKind: JsonValueKind.Number } n => ports.Any(p => p.Prop("containerPort")?.GetInt32() == n.GetInt32()) ? n.GetInt32() : null,
            { ValueKind: JsonValueKind.String } s => ports.Where(p => p.Prop("name")?.GetString() == s.GetString())
                .Select(p => p.Prop("containerPort")?.GetInt32()).FirstOrDefault(),
            _ => null,
        };
    }

    /// <summary>Label selector semantics (matchLabels and matchExpressions, or a Service's plain map).</summary>
    public static bool Selects(JsonElement? selector, IReadOnlyDictionary<string, string> labels, bool isService = false)
    {
        if (selector is null) return false;
        var matchLabels = isService ? Map(selector) : Map(selector.Prop("matchLabels"));
        if (!matchLabels.All(kv => labels.TryGetValue(kv.Key, out var v) && v == kv.Value)) return false;
        if (isService) return matchLabels.Count > 0;
        foreach (var expression in Items(selector.Prop("matchExpressions")))
        {
            var key = expression.Prop("key")?.GetString() ?? "";
            var values = Items(expression.Prop("values")).Select(v => v.GetString()).ToHashSet();
            var has = labels.TryGetValue(key, out var value);
            var ok = expression.Prop("operator")?.GetString() switch
            {
                "In" => has && values.Contains(value),
                "NotIn" => !has || !values.Contains(value),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => false,
            };
            if (!ok) return false;
        }
        return true;
    }

    private static int? PreStopSleepSeconds(JsonElement hook)
    {
        if (hook.Prop("sleep")?.Prop("seconds")?.GetInt32() is { } s) return s;
        var command = Items(hook.Prop("exec")?.Prop("command")).Select(c => c.GetString() ?? "").ToList();
        var at = command.FindIndex(c => c == "sleep" || c.EndsWith("/sleep", StringComparison.Ordinal));
        if (at < 0 && command.Count > 0 && Regex.Match(command[^1], @"\bsleep\s+(\d+)") is { Success: true } m)
            return int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return at >= 0 && at + 1 < command.Count && int.TryParse(command[at + 1], out var n) ? n : null;
    }
}
