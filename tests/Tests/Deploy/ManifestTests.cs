using System.Text.Json;
using static CodexLb.Tests.Deploy.ManifestChecks;

namespace CodexLb.Tests.Deploy;

/// <summary>
/// deploy/k8s rendered with <c>kubectl kustomize</c> (base and the dev overlay) and validated offline against the
/// Kubernetes schemas (deploy/k8s/validate.mjs), then checked for the points the product depends on.
/// Needs kubectl, node and <c>deploy/k8s/validate.sh --install</c> (scripts/test.sh runs it); a missing one fails
/// the test with a message saying so.
/// </summary>
public sealed class ManifestTests
{
    public static TheoryData<string> Kustomizations => new() { "base", "overlays/dev" };

    private static async Task<IReadOnlyList<JsonElement>> ObjectsAsync(string kustomization)
    {
        var report = await Manifests.RenderAndValidateAsync(kustomization);
        Assert.True(report.Valid, $"deploy/k8s/{kustomization} renders invalid objects:\n{report}");
        return report.Objects;
    }

    private static void NoProblems(List<string> problems) => Assert.True(problems.Count == 0, string.Join("\n", problems));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Every_rendered_object_is_valid_against_the_Kubernetes_schemas(string kustomization)
    {
        var report = await Manifests.RenderAndValidateAsync(kustomization);
        Assert.True(report.Valid, report.ToString());
        var kinds = report.Objects.Select(o => o.Prop("kind")?.GetString()).ToHashSet();
        foreach (var kind in new[] { "Namespace", "ConfigMap", "Secret", "Service", "Deployment", "StatefulSet", "PodDisruptionBudget",
                     "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy", "ServiceAccount" })
            Assert.Contains(kind, kinds);
    }

    [Fact]
    public async Task The_validator_rejects_invalid_objects()
    {
        const string yaml = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: Not_A_Dns_Name
            spec:
              template:
                metadata:
                  labels: {app: x}
                spec:
                  containers:
                    - name: c
                      image: example/c:1
                      readinesProbe: {httpGet: {path: /readyz, port: 8080}}
                      ports:
                        - containerPort: "eleven"
            ---
            apiVersion: example.com/v1
            kind: Widget
            metadata: {name: w}
            ---
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: fine}
            data: {a: "1"}
            """;
        var report = await Manifests.ValidateAsync(yaml);

        Assert.False(report.Valid);
        Assert.Equal(3, report.Objects.Count);
        Assert.Contains(report.Errors, e => e.Contains("must have required property selector", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("containerPort: must be integer", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("unknown field \"readinesProbe\"", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("Not_A_Dns_Name", StringComparison.Ordinal) && e.Contains("DNS-1123", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("unknown apiVersion/kind \"example.com/v1/Widget\"", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Errors, e => e.StartsWith("#2 ", StringComparison.Ordinal)); // the ConfigMap is fine

        var unparsable = await Manifests.ValidateAsync("kind: [unterminated\n");
        Assert.False(unparsable.Valid);
        Assert.Contains(unparsable.Errors, e => e.Contains("YAML", StringComparison.Ordinal));
    }

    /// <summary>Renders and validates a real kustomization over the real base with these <c>patches:</c> entries.</summary>
    private static async Task<ValidationReport> RenderOverlayAsync(string label, string patches)
    {
        var dir = Directory.CreateTempSubdirectory($"codexlb-k8s-{label}-");
        try
        {
            var basePath = Path.GetRelativePath(dir.FullName, Path.Combine(Manifests.DeployDir, "base")).Replace('\\', '/');
            await File.WriteAllTextAsync(Path.Combine(dir.FullName, "kustomization.yaml"), $"""
                apiVersion: kustomize.config.k8s.io/v1beta1
                kind: Kustomization
                resources:
                  - {basePath}
                patches:
                {patches}
                """);
            return await Manifests.ValidateAsync(await Manifests.RenderAsync(dir.FullName));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_overlay_that_breaks_the_base_fails_validation_and_the_checks()
    {
        // A real kustomization over the real base: a schema error, a misspelt field, a grace period shorter than the
        // drain, a removed preStop hook and a real-looking key in a Secret.
        var fakeKey = "sk-" + "proj-" + string.Concat(Enumerable.Repeat("Ab3dEf9h", 5));
        var report = await RenderOverlayAsync("broken", $$"""
                  - target: {kind: Deployment, name: codexlb-silo}
                    patch: |-
                      - op: replace
                        path: /spec/template/spec/terminationGracePeriodSeconds
                        value: 20
                      - op: replace
                        path: /spec/template/spec/containers/0/ports/0/containerPort
                        value: eleven
                      - op: add
                        path: /spec/template/spec/containers/0/readinesProbe
                        value:
                          httpGet:
                            path: /readyz
                            port: http
                      - op: remove
                        path: /spec/template/spec/containers/0/lifecycle
                  - target: {kind: Secret, name: codexlb-upstream}
                    patch: |-
                      - op: replace
                        path: /stringData/CodexLb__Upstream__ApiKey
                        value: {{fakeKey}}
                """);

        Assert.False(report.Valid);
        Assert.Contains(report.Errors, e => e.Contains("codexlb-silo", StringComparison.Ordinal) && e.Contains("containerPort: must be integer", StringComparison.Ordinal));
        Assert.Contains(report.Errors, e => e.Contains("codexlb-silo", StringComparison.Ordinal) && e.Contains("unknown field \"readinesProbe\"", StringComparison.Ordinal));
        var grace = GracePeriods(report.Objects);
        Assert.Contains(grace, p => p.Contains("silo: terminationGracePeriodSeconds 20 must exceed 30", StringComparison.Ordinal));
        Assert.Contains(grace, p => p.Contains("silo: no preStop sleep", StringComparison.Ordinal));
        Assert.Contains(Secrets(report.Objects), p => p.Contains("CodexLb__Upstream__ApiKey looks like a real credential", StringComparison.Ordinal));
    }

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Silos_and_gateways_outlive_their_drain(string kustomization) => NoProblems(GracePeriods(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Liveness_is_healthz_and_readiness_is_readyz(string kustomization) => NoProblems(Probes(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Silos_advertise_their_pod_ip_and_share_the_cluster_identity(string kustomization) =>
        NoProblems(DownwardApi(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Silos_and_gateways_have_disruption_budgets(string kustomization) => NoProblems(DisruptionBudgets(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task The_autoscaler_scales_the_gateway_deployment_on_cpu(string kustomization) => NoProblems(Autoscaler(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task The_ingress_keeps_sse_and_websockets_open_and_unbuffered(string kustomization) => NoProblems(Ingress(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Secrets_hold_placeholders_only(string kustomization) => NoProblems(Secrets(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Every_container_has_requests_and_limits_and_runs_as_non_root(string kustomization) =>
        NoProblems(ContainersAreBoundedAndNonRoot(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Every_service_selects_pods_and_their_ports(string kustomization) => NoProblems(ServicesMatchPods(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Objects_are_namespaced_labelled_and_scraped(string kustomization) => NoProblems(Metadata(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task The_redis_connection_string_names_the_redis_service(string kustomization) => NoProblems(Redis(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Silos_spread_over_nodes(string kustomization) => NoProblems(SiloAntiAffinity(await ObjectsAsync(kustomization)));

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Network_policies_open_exactly_the_paths_the_system_uses(string kustomization)
    {
        var objects = await ObjectsAsync(kustomization);
        Peer Pod(string component) => Peer.InNamespace(Namespace, TemplateLabels(Workload(objects, component)
            ?? throw new InvalidOperationException($"no {component} workload")));
        var silo = Pod("silo");
        var gateway = Pod("gateway");
        var redis = Pod("storage");
        var ingressController = Peer.InNamespace("ingress-nginx", new Dictionary<string, string> { ["app.kubernetes.io/name"] = "ingress-nginx" });
        var prometheus = Peer.InNamespace("monitoring", new Dictionary<string, string> { ["app.kubernetes.io/name"] = "prometheus" });
        var stranger = Peer.InNamespace(Namespace, new Dictionary<string, string> { ["app"] = "debug" });
        var otherNamespace = Peer.InNamespace("default", TemplateLabels(Workload(objects, "gateway")!.Value));
        var dns = Peer.InNamespace("kube-system", new Dictionary<string, string> { ["k8s-app"] = "kube-dns" });
        var provider = Peer.Outside("162.159.140.245");
        var privateAddress = Peer.Outside("10.1.2.3");

        var expectations = new (string What, Peer From, Peer To, int Port, bool Allowed)[]
        {
            ("ingress controller -> gateway http", ingressController, gateway, 8080, true),
            ("prometheus -> silo http", prometheus, silo, 8080, true),
            ("prometheus -> gateway http", prometheus, gateway, 8080, true),
            ("gateway -> silo http", gateway, silo, 8080, false),
            ("ingress controller -> silo http", ingressController, silo, 8080, false),
            ("silo -> silo (Orleans)", silo, silo, 11111, true),
            ("gateway -> silo (Orleans gateway)", gateway, silo, 30000, true),
            ("silo -> redis", silo, redis, 6379, true),
            ("gateway -> redis", gateway, redis, 6379, true),
            ("silo -> provider 443", silo, provider, 443, true),
            ("silo -> DNS", silo, dns, 53, true),
            ("gateway -> DNS", gateway, dns, 53, true),
            ("other pod -> silo http", stranger, silo, 8080, false),
            ("gateway from another namespace -> silo http", otherNamespace, silo, 8080, false),
            ("redis -> silo http", redis, silo, 8080, false),
            ("gateway -> silo 11111", gateway, silo, 11111, false),
            ("ingress controller -> silo 30000", ingressController, silo, 30000, false),
            ("other pod -> gateway http", stranger, gateway, 8080, false),
            ("ingress controller -> redis", ingressController, redis, 6379, false),
            ("other pod -> redis", stranger, redis, 6379, false),
            ("silo -> private address 443", silo, privateAddress, 443, false),
            ("gateway -> provider 443", gateway, provider, 443, false),
            ("redis -> provider 443", redis, provider, 443, false),
        };
        // An allowed path must be open on both sides; a denied one must be closed by the side it concerns (the
        // receiving pod's own policy, or the sender's egress for outside addresses), not only by the other side.
        var wrong = expectations.Where(e => e.Allowed
                ? !Allows(objects, e.From, e.To, e.Port)
                : e.To.Address is null ? IngressAllows(objects, e.From, e.To, e.Port) : EgressAllows(objects, e.From, e.To, e.Port))
            .Select(e => $"{e.What}:{e.Port} should be {(e.Allowed ? "allowed" : "denied")}").ToList();
        NoProblems(wrong);
    }

    [Theory, MemberData(nameof(Kustomizations))]
    public async Task Clients_reach_gateways_only_and_nothing_runs_the_simulator_in_process(string kustomization) =>
        NoProblems(ClientsReachGatewaysOnly(await ObjectsAsync(kustomization)));

    [Fact]
    public async Task An_overlay_that_sends_clients_to_silos_fails_the_check()
    {
        var objects = (await RenderOverlayAsync("silo-clients", """
                  - target: {kind: Deployment, name: codexlb-silo}
                    patch: |-
                      - op: replace
                        path: /spec/template/spec/containers/0/env/0/value
                        value: "true"
                      - op: add
                        path: /spec/template/spec/containers/0/envFrom/-
                        value:
                          secretRef:
                            name: codexlb-gateway-keys
                  - target: {kind: ConfigMap, name: codexlb-config}
                    patch: |-
                      - op: add
                        path: /data/CodexLb__Upstream__UseSimulator
                        value: "true"
                """)).Objects;
        var problems = ClientsReachGatewaysOnly(objects);
        Assert.Contains(problems, p => p.Contains("CodexLb__Silo__ServeClients is true", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("client API keys from Secret codexlb-gateway-keys", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("codexlb-silo: CodexLb__Upstream__UseSimulator", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("codexlb-gateway: CodexLb__Upstream__UseSimulator", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_dev_overlay_runs_against_the_upstream_simulator()
    {
        var objects = await ObjectsAsync("overlays/dev");
        var silo = Workload(objects, "silo")!.Value;
        var baseUrl = new Uri(ConfigFor(objects, MainContainer(silo))["CodexLb__Upstream__BaseUrl"]);
        var simulator = Workload(objects, "upstream-simulator") ?? throw new InvalidOperationException("no simulator workload");
        var service = OfKind(objects, "Service").Single(s => Name(s) == baseUrl.Host);
        Assert.True(Selects(service.Prop("spec")?.Prop("selector"), TemplateLabels(simulator), isService: true));
        Assert.Contains(Items(service.Prop("spec")?.Prop("ports")), p => p.Prop("port")?.GetInt32() == baseUrl.Port);
        var simulatorPod = Peer.InNamespace(Namespace, TemplateLabels(simulator));
        Assert.True(Allows(objects, Peer.InNamespace(Namespace, TemplateLabels(silo)), simulatorPod, baseUrl.Port), "silos cannot reach the simulator");
        Assert.False(Allows(objects, Peer.InNamespace(Namespace, TemplateLabels(Workload(objects, "gateway")!.Value)), simulatorPod, baseUrl.Port),
            "gateways must not reach the simulator");
        Assert.Equal(2, silo.Prop("spec")?.Prop("replicas")?.GetInt32());
    }
}
