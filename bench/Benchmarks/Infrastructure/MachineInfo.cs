using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace CodexLb.Benchmarks.Infrastructure;

/// <summary>The machine the numbers come from: nproc, lscpu | head, memory, dotnet --version, date.</summary>
public static class MachineInfo
{
    public static void Print()
    {
        Console.WriteLine("## Machine");
        Console.WriteLine();
        Console.WriteLine("```");
        Console.WriteLine($"date            : {DateTimeOffset.Now:yyyy-MM-dd HH:mm:ss zzz}");
        Console.WriteLine($"nproc           : {Run("nproc").Trim()} (Environment.ProcessorCount = {Environment.ProcessorCount})");
        Console.WriteLine($"memory          : {MemTotal()}");
        Console.WriteLine($"dotnet --version: {Run("dotnet", "--version").Trim()}");
        Console.WriteLine($"runtime         : {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}");
        Console.WriteLine($"gc              : server={GCSettings.IsServerGC}, latency={GCSettings.LatencyMode}");
        Console.WriteLine($"loadavg         : {ReadFirstLine("/proc/loadavg")}");
        Console.WriteLine("lscpu | head    :");
        foreach (var line in Run("lscpu").Split('\n').Take(10)) Console.WriteLine("  " + line);
        Console.WriteLine("```");
        Console.Out.Flush();
    }

    private static string MemTotal()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/meminfo");
            string Get(string key) => lines.FirstOrDefault(l => l.StartsWith(key + ":", StringComparison.Ordinal))?[(key.Length + 1)..].Trim() ?? "?";
            return $"MemTotal {Get("MemTotal")}, MemAvailable {Get("MemAvailable")}";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string ReadFirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault() ?? "?";
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static string Run(string file, string arguments = "")
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false })!;
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return output;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "(not available)";
        }
    }
}
