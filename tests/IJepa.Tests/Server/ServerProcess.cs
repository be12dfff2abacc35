using System.Diagnostics;
using System.Text;

namespace IJepa.ServerTesting;

/// <summary>
/// The built IJepa.Server run as a child process on 127.0.0.1 (a port the system picks), as a user runs it;
/// shared by the server tests and the server-load benchmark.
/// </summary>
internal sealed class ServerProcess : IAsyncDisposable
{
    private const string Listening = "Now listening on: ";
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<Uri> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServerProcess(Process process)
    {
        Process = process;
    }

    public Process Process { get; }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Everything the server printed so far, standard output and error interleaved.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts <paramref name="serverDll"/> with <paramref name="arguments"/> (and extra environment variables; a null value
    /// removes one) and waits until it answers /ready.
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string dotnet, string serverDll, IEnumerable<string> arguments, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(serverDll);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add("http://127.0.0.1:0");
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (string name in new[] { "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildLoadMicrosoftTargetsReadOnly", "ASPNETCORE_URLS", "URLS" })
        {
            start.Environment.Remove(name);
        }
        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach ((string name, string? value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }
        var server = new ServerProcess(Process.Start(start)!);
        server.Process.OutputDataReceived += (_, e) => server.Line(e.Data);
        server.Process.ErrorDataReceived += (_, e) => server.Line(e.Data);
        server.Process.BeginOutputReadLine();
        server.Process.BeginErrorReadLine();
        try
        {
            using var deadline = new CancellationTokenSource(timeout);
            Task exited = server.Process.WaitForExitAsync(deadline.Token);
            Task first = await Task.WhenAny(server._address.Task, exited).ConfigureAwait(false);
            if (first != server._address.Task)
            {
                throw new InvalidOperationException($"the server exited before listening:\n{server.Output}");
            }
            server.Address = server._address.Task.Result;
            using var client = new HttpClient { BaseAddress = server.Address };
            while (true)
            {
                using HttpResponseMessage ready = await client.GetAsync(new Uri("/ready", UriKind.Relative), deadline.Token).ConfigureAwait(false);
                if (ready.IsSuccessStatusCode)
                {
                    return server;
                }
                if (server.Process.HasExited)
                {
                    throw new InvalidOperationException($"the server exited before it was ready:\n{server.Output}");
                }
                await Task.Delay(50, deadline.Token).ConfigureAwait(false);
            }
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_output)
        {
            _output.AppendLine(line);
        }
        int at = line.IndexOf(Listening, StringComparison.Ordinal);
        if (at >= 0)
        {
            _address.TrySetResult(new Uri(line[(at + Listening.Length)..].Trim() + "/"));
        }
    }

    /// <summary>Sends SIGTERM, as a service manager stopping the server does.</summary>
    public void Terminate()
    {
        using Process kill = Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
    }

    /// <summary>The exit code, or null if the process is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await Process.WaitForExitAsync(deadline.Token).ConfigureAwait(false);
            return Process.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync().ConfigureAwait(false);
        }
        Process.Dispose();
    }
}
