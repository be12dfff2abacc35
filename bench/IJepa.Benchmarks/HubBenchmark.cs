using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using IJepa.Hub;
using IJepa.HubTesting;
using IJepa.Model;

namespace IJepa.Benchmarks;

/// <summary>
/// Download speed against curl, memory, resume after a cut, and loading from the cache against loading
/// a folder. The fake hub (the tests' own, 127.0.0.1 only) runs in a child process so that its memory
/// and CPU are not counted as the client's; curl fetches the same URL from it (following the LFS redirect).
/// </summary>
internal static class HubBenchmark
{
    private const string RepoId = "bench/model";

    public sealed record Settings(string ModelFolder, string WorkFolder, int Rounds, string? OutFile);

    /// <summary>The child: serves <paramref name="folder"/> as <see cref="RepoId"/> and obeys commands on stdin.</summary>
    public static async Task<int> ServeAsync(string folder)
    {
        await using FakeHub hub = await FakeHub.StartAsync();
        var files = new Dictionary<string, FakeFile>(StringComparer.Ordinal);
        foreach (string path in Directory.GetFiles(folder))
        {
            string name = Path.GetFileName(path);
            if (name.EndsWith(".safetensors", StringComparison.Ordinal))
            {
                await using FileStream stream = File.OpenRead(path);
                files[name] = FakeFile.FromDisk(path, Convert.ToHexStringLower(await SHA256.HashDataAsync(stream)));
            }
            else
            {
                files[name] = FakeFile.FromBytes(await File.ReadAllBytesAsync(path), lfs: false);
            }
        }
        hub.AddRepo(RepoId, files);
        Console.WriteLine(hub.Endpoint);
        while (await Console.In.ReadLineAsync() is { } line)
        {
            string[] words = line.Split(' ');
            switch (words[0])
            {
                case "cut":
                    hub.Faults.Cut(long.Parse(words[1], CultureInfo.InvariantCulture));
                    break;
                case "served":
                    Console.WriteLine(hub.BytesServed.Values.Sum());
                    break;
                case "reset":
                    hub.BytesServed.Clear();
                    break;
                default:
                    return 0;
            }
            Console.WriteLine("ok");
        }
        return 0;
    }

    public static async Task<int> RunAsync(Settings settings)
    {
        var report = new StringWriter(CultureInfo.InvariantCulture);
        void Say(string line)
        {
            Console.WriteLine(line);
            report.WriteLine(line);
        }
        long size = new FileInfo(Path.Combine(settings.ModelFolder, "model.safetensors")).Length;
        Directory.CreateDirectory(settings.WorkFolder);
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { typeof(HubBenchmark).Assembly.Location, "hub-serve", "--model", settings.ModelFolder })
        {
            start.ArgumentList.Add(argument);
        }
        using Process server = Process.Start(start)!;
        try
        {
            var endpoint = new Uri((await server.StandardOutput.ReadLineAsync())!);
            async Task<string> Command(string text)
            {
                await server.StandardInput.WriteLineAsync(text);
                await server.StandardInput.FlushAsync();
                string answer = (await server.StandardOutput.ReadLineAsync())!;
                return answer == "ok" ? answer : answer + (await server.StandardOutput.ReadLineAsync() is "ok" ? "" : "?");
            }
            string url = new Uri(endpoint, $"{RepoId}/resolve/main/model.safetensors").ToString();
            Say($"hub benchmark: {size / 1e9:F3} GB model.safetensors from {settings.ModelFolder}, fake hub {endpoint} (child process), work folder {settings.WorkFolder}");
            Say($"{Environment.ProcessorCount} cores; curl: {FirstLine("curl", "--version")}");
            HubOptions Options(string cache) => new() { Endpoint = endpoint, CacheDirectory = cache, Token = "", Offline = false };

            var curlSeconds = new List<double>();
            var oursSeconds = new List<double>();
            var peaks = new List<long>();
            for (int round = 1; round <= settings.Rounds; round++)
            {
                string curlOut = Path.Combine(settings.WorkFolder, "curl.bin");
                File.Delete(curlOut);
                var clock = Stopwatch.StartNew();
                using (Process curl = Process.Start("curl", ["-sS", "-L", "-o", curlOut, url]))
                {
                    await curl.WaitForExitAsync();
                    if (curl.ExitCode != 0 || new FileInfo(curlOut).Length != size)
                    {
                        Say($"curl failed (exit {curl.ExitCode})");
                        return 1;
                    }
                }
                curlSeconds.Add(clock.Elapsed.TotalSeconds);
                File.Delete(curlOut);

                string cache = Path.Combine(settings.WorkFolder, "cache");
                if (Directory.Exists(cache))
                {
                    Directory.Delete(cache, recursive: true);
                }
                GC.Collect();
                ProcessMemory.ResetPeak();
                long baseline = ProcessMemory.Resident();
                clock.Restart();
                await HuggingFaceHub.DownloadModelAsync(RepoId, Options(cache));
                oursSeconds.Add(clock.Elapsed.TotalSeconds);
                peaks.Add(ProcessMemory.Peak() - baseline);
                Say(string.Create(CultureInfo.InvariantCulture,
                    $"round {round}: curl {curlSeconds[^1]:F2} s ({size / 1e6 / curlSeconds[^1]:F0} MB/s), IJepa {oursSeconds[^1]:F2} s ({size / 1e6 / oursSeconds[^1]:F0} MB/s, whole model incl. metadata and SHA-256), peak RSS above baseline {peaks[^1] / 1e6:F1} MB"));
            }
            double curlMedian = Median(curlSeconds), oursMedian = Median(oursSeconds);
            Say(string.Create(CultureInfo.InvariantCulture,
                $"median: curl {curlMedian:F2} s, IJepa {oursMedian:F2} s -> IJepa speed / curl speed = {curlMedian / oursMedian:F2} (target >= 0.80); max peak RSS above baseline {peaks.Max() / 1e6:F1} MB (target <= 64)"));

            // Resume: the connection is cut halfway; the retry asks for the rest with Range.
            string resumeCache = Path.Combine(settings.WorkFolder, "cache-resume");
            if (Directory.Exists(resumeCache))
            {
                Directory.Delete(resumeCache, recursive: true);
            }
            await Command("reset");
            await Command($"cut {size / 2}");
            var resumeClock = Stopwatch.StartNew();
            await HuggingFaceHub.DownloadModelAsync(RepoId, Options(resumeCache) with { BackoffBase = TimeSpan.FromMilliseconds(100) });
            double resumeSeconds = resumeClock.Elapsed.TotalSeconds;
            long served = long.Parse((await Command("served")).Trim(), CultureInfo.InvariantCulture);
            Say(string.Create(CultureInfo.InvariantCulture,
                $"resume: cut at {size / 2} bytes; the server sent {served} bytes in all for a {size}-byte file ({(served - size):+0;-0;0} extra), {resumeSeconds:F2} s incl. one 0.1 s backoff; blob verified"));
            Directory.Delete(resumeCache, recursive: true);

            // Loading: by id from the cache (one HEAD to the hub, then the snapshot's links to blobs) against the plain folder, interleaved.
            var fromCache = new List<double>();
            var fromFolder = new List<double>();
            for (int i = 0; i < 3; i++)
            {
                fromFolder.Add(TimeLoad(settings.ModelFolder, null));
                fromCache.Add(TimeLoad(RepoId, Options(Path.Combine(settings.WorkFolder, "cache"))));
            }
            Say(string.Create(CultureInfo.InvariantCulture,
                $"load: folder {string.Join(", ", fromFolder.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s; from cache by id {string.Join(", ", fromCache.Select(s => s.ToString("F2", CultureInfo.InvariantCulture)))} s; medians {Median(fromFolder):F2} / {Median(fromCache):F2} s"));
            Directory.Delete(Path.Combine(settings.WorkFolder, "cache"), recursive: true);
            if (settings.OutFile is { } outFile)
            {
                await File.WriteAllTextAsync(outFile, report.ToString());
            }
            return 0;
        }
        finally
        {
            server.StandardInput.Close();
            if (!server.WaitForExit(10_000))
            {
                server.Kill();
            }
        }
    }

    private static double TimeLoad(string folderOrId, HubOptions? hub)
    {
        var clock = Stopwatch.StartNew();
        using IJepaModel model = IJepaModel.FromPretrained(folderOrId, hub: hub);
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>The median of some timings (the mean of the middle two for an even count).</summary>
    internal static double Median(List<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string FirstLine(string program, string argument)
    {
        try
        {
            using Process process = Process.Start(new ProcessStartInfo(program, argument) { RedirectStandardOutput = true })!;
            string line = process.StandardOutput.ReadLine() ?? "";
            process.WaitForExit();
            return line;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return e.Message;
        }
    }
}
