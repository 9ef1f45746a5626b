using System.Diagnostics;

namespace CodexLb.Tests.Infrastructure;

/// <summary>Debian's Chromium, headless (installed by scripts/test.sh), with the flags this closed network needs.</summary>
public static class HeadlessChromium
{
    public const string Binary = "/usr/bin/chromium";

    /// <summary>The DOM after scripts ran (virtual time lets the page's fetches and timers settle).</summary>
    public static Task<string> DumpDomAsync(Uri url) => RunAsync(url, "--dump-dom");

    public static Task<string> ScreenshotAsync(Uri url, string path) => RunAsync(url, "--screenshot=" + path, "--window-size=1400,1000");

    private static async Task<string> RunAsync(Uri url, params string[] extra)
    {
        if (!File.Exists(Binary)) throw new InvalidOperationException($"{Binary} not found: run scripts/test.sh (it installs Debian's chromium).");
        var profile = Directory.CreateTempSubdirectory("chromium-").FullName;
        try
        {
            var info = new ProcessStartInfo(Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync", "--user-data-dir=" + profile, "--virtual-time-budget=20000" })
                info.ArgumentList.Add(arg);
            foreach (var arg in extra) info.ArgumentList.Add(arg);
            info.ArgumentList.Add(url.ToString());
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0) throw new InvalidOperationException($"chromium exited {process.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            try { Directory.Delete(profile, true); } catch (IOException) { }
        }
    }
}
