using System.Globalization;
using System.Text;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>Percentiles (nearest rank) over a sorted copy of the samples; no histogram library.</summary>
public sealed class Distribution
{
    private readonly double[] _sorted;

    public Distribution(IEnumerable<double> samples)
    {
        _sorted = samples.ToArray();
        Array.Sort(_sorted);
    }

    public int Count => _sorted.Length;

    public double Percentile(double p)
    {
        if (_sorted.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(p / 100.0 * _sorted.Length);
        return _sorted[Math.Clamp(rank - 1, 0, _sorted.Length - 1)];
    }

    public double P50 => Percentile(50);
    public double P90 => Percentile(90);
    public double P99 => Percentile(99);
    public double Max => _sorted.Length == 0 ? double.NaN : _sorted[^1];
    public double Mean => _sorted.Length == 0 ? double.NaN : _sorted.Average();
}

/// <summary>Prints a Markdown table (so the output can be pasted into docs/BENCHMARKS.md as is).</summary>
public sealed class Table(string title, params string[] headers)
{
    private readonly List<string[]> _rows = [];

    public void Add(params object[] cells) => _rows.Add(cells.Select(Format).ToArray());

    private static string Format(object cell) => cell switch
    {
        double d when double.IsNaN(d) => "-",
        double d when Math.Abs(d) >= 100 => d.ToString("N0", CultureInfo.InvariantCulture),
        double d when Math.Abs(d) >= 10 => d.ToString("N1", CultureInfo.InvariantCulture),
        double d => d.ToString("N2", CultureInfo.InvariantCulture),
        int i => i.ToString("N0", CultureInfo.InvariantCulture),
        long l => l.ToString("N0", CultureInfo.InvariantCulture),
        _ => cell.ToString() ?? "",
    };

    private static bool IsNumber(string cell) =>
        double.TryParse(cell.Replace(",", "").Replace("%", "").Replace(" KB", "").Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out _);

    public void Print()
    {
        var widths = headers.Select((h, i) => Math.Max(h.Length, _rows.Count == 0 ? 0 : _rows.Max(r => i < r.Length ? r[i].Length : 0))).ToArray();
        var text = new StringBuilder();
        text.AppendLine().AppendLine("### " + title).AppendLine();
        text.AppendLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        // A column is right-aligned when every non-empty cell is a number (thousands separators, sign, % and units allowed).
        var numeric = widths.Select((_, i) => i > 0 && _rows.All(r => i >= r.Length || r[i].Length == 0 || r[i] == "-" || IsNumber(r[i]))).ToArray();
        text.AppendLine("|" + string.Join("|", widths.Select((w, i) => numeric[i] ? new string('-', w + 1) + ":" : new string('-', w + 2))) + "|");
        foreach (var row in _rows)
            text.AppendLine("| " + string.Join(" | ", row.Select((c, i) => numeric[i] ? c.PadLeft(widths[i]) : c.PadRight(widths[i]))) + " |");
        Console.Write(text.ToString());
        Console.Out.Flush();
    }
}

public static class Log
{
    /// <summary>Progress lines (stderr, so stdout holds only the tables and notes).</summary>
    public static void Progress(string message) => Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    public static void Note(string message) => Console.WriteLine(message);
}
