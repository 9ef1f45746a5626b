using System.Net;
using System.Net.Sockets;

namespace CodexLb.Tests.Cluster;

/// <summary>
/// Free TCP ports for cluster processes. They are taken below the kernel's ephemeral range, so an outgoing connection
/// cannot grab one between a process's stop and its restart on the same port, and checked free on 0.0.0.0 (silos
/// listen on every address). Never the same port twice in one test process.
/// </summary>
internal static class ClusterPorts
{
    private const int Lowest = 20000;
    private static readonly HashSet<int> Given = [];
    private static readonly Lock Gate = new();

    public static int Next()
    {
        var ceiling = EphemeralLow() - 1;
        lock (Gate)
        {
            if (ceiling - Lowest >= 1000)
            {
                for (var attempt = 0; attempt < 500; attempt++)
                {
                    var port = Random.Shared.Next(Lowest, ceiling + 1);
                    if (!Given.Contains(port) && IsFree(port))
                    {
                        Given.Add(port);
                        return port;
                    }
                }
            }

            // An unusual ephemeral range: let the kernel pick.
            while (true)
            {
                using var listener = new TcpListener(IPAddress.Any, 0);
                listener.Start();
                var port = ((IPEndPoint)listener.LocalEndpoint).Port;
                if (Given.Add(port)) return port;
            }
        }
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static int EphemeralLow()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
