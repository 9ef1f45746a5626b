using System.Globalization;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>One scrape of a Prometheus text endpoint (the product's /metrics): every sample line, keyed by name{labels}.</summary>
public sealed class MetricsScrape(Dictionary<string, double> samples)
{
    private readonly Dictionary<string, double> _samples = samples;

    public static async Task<MetricsScrape> ReadAsync(HttpClient http, Uri url)
    {
        var text = await http.GetStringAsync(url);
        var samples = new Dictionary<string, double>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var space = line.LastIndexOf(' ');
            if (space > 0 && double.TryParse(line.AsSpan(space + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                samples[line[..space]] = value;
        }
        return new MetricsScrape(samples);
    }

    /// <summary>The sum over the series of <paramref name="name"/> (exact metric name) whose labels contain every one of <paramref name="labels"/>.</summary>
    public double Sum(string name, params string[] labels) => _samples
        .Where(kv => kv.Key.StartsWith(name, StringComparison.Ordinal) && (kv.Key.Length == name.Length || kv.Key[name.Length] == '{')
                     && labels.All(l => kv.Key.Contains(l, StringComparison.Ordinal)))
        .Sum(kv => kv.Value);

    /// <summary>The series of <paramref name="name"/> that grew since <paramref name="earlier"/>, with their growth (labels say which).</summary>
    public IEnumerable<(string Series, double Growth)> GrownSince(MetricsScrape earlier, string name) => _samples
        .Where(kv => kv.Key.StartsWith(name + "{", StringComparison.Ordinal) && kv.Value > earlier._samples.GetValueOrDefault(kv.Key))
        .Select(kv => (kv.Key[name.Length..], kv.Value - earlier._samples.GetValueOrDefault(kv.Key)));

    /// <summary>Whether any series of <paramref name="name"/> exists.</summary>
    public bool Has(string name) => _samples.Keys.Any(k => k.StartsWith(name, StringComparison.Ordinal));
}
