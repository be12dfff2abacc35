using System.Diagnostics;
using System.Globalization;
using IJepa.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Benchmarks;

/// <summary>
/// Shows the hazard that BannedSymbols.txt guards against: <c>x.add_(y)</c>, whose alpha TorchSharp makes as a
/// temporary Scalar, called in a loop while another thread keeps the collector and the finalizer busy, against the
/// same call with a held alpha. Each runs in a child process, because the temporary one is expected to abort it.
/// </summary>
internal static class ScalarRaceBenchmark
{
    /// <summary>Runs the children (childMode null) or, in a child, the loop of one mode ("temporary" or "held").</summary>
    public static int Run(long calls, int rounds, string? childMode)
    {
        if (childMode is { } mode)
        {
            return Child(mode, calls);
        }
        Console.WriteLine($"scalar-race: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, {calls:N0} add_ calls per child, a second thread running GC.Collect + WaitForPendingFinalizers");
        foreach (string which in new[] { "temporary", "held" })
        {
            for (int round = 1; round <= rounds; round++)
            {
                var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
                if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
                {
                    start.ArgumentList.Add(typeof(ScalarRaceBenchmark).Assembly.Location);
                }
                foreach (string a in new[] { "scalar-race", "--child", which, "--calls", calls.ToString(CultureInfo.InvariantCulture) })
                {
                    start.ArgumentList.Add(a);
                }
                using Process child = Process.Start(start)!;
                Task<string> error = child.StandardError.ReadToEndAsync();
                string output = child.StandardOutput.ReadToEnd();
                child.WaitForExit();
                string lastProgress = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith("at ", StringComparison.Ordinal)) ?? "at 0";
                string crash = error.Result.Split('\n').FirstOrDefault(l => l.Contains("Expected", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal))?.Trim() ?? "";
                Console.WriteLine($"{which,-9} round {round}: exit {child.ExitCode}, {(child.ExitCode == 0 ? $"all {calls:N0} calls done" : $"died after {lastProgress[3..]} calls ({crash[..Math.Min(crash.Length, 120)]})")}");
            }
        }
        return 0;
    }

    private static int Child(string mode, long calls)
    {
        bool stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        })
        { IsBackground = true };
        collector.Start();
        using Tensor sum = zeros(64);
        using Tensor step = ones(64);
        for (long i = 1; i <= calls; i++)
        {
            if (mode == "temporary")
            {
#pragma warning disable RS0030 // the banned call, on purpose: this is what the ban prevents
                sum.add_(step);
#pragma warning restore RS0030
            }
            else
            {
                sum.add_(step, HeldScalars.One);
            }
            if (i % 10_000 == 0)
            {
                Console.WriteLine($"at {i}");
            }
        }
        Volatile.Write(ref stop, true);
        return 0;
    }
}
