using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using IJepa.ServerTesting;

namespace IJepa.Benchmarks;

/// <summary>
/// The embedding server (samples/IJepa.Server, a child process on 127.0.0.1) under load from a small C# load
/// generator (HttpClient, one task per client, each posting its next image as soon as its previous answer
/// is in): throughput against FeatureDump's offline rate on the same photos in the same run, latency,
/// equality with in-process encoding, overload with a small queue (503s and resident memory), and SIGTERM
/// in the middle of a load.
/// </summary>
internal static class ServerLoadBenchmark
{
    public sealed record Settings(string Repository, string Model, string Photos, int Requests, int Clients, double CorruptShare,
        int OverloadClients, int OverloadQueue, int OverloadSeconds, string? Output, string[] Phases, string[] ServerOptions);

    // What the overload records every 10 s: the kernel's view of the server (/proc status fields) and its memory series.
    private static readonly string[] KernelFields = ["Threads:", "RssAnon:", "RssFile:", "RssShmem:"];
    private static readonly string[] MemorySeries = ["ijepa_managed_", "ijepa_gc_", "ijepa_native_", "ijepa_threadpool_", "ijepa_kestrel_"];

    private static readonly string Dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static async Task<int> RunAsync(Settings s)
    {
        var report = new StringBuilder();
        void Say(string line)
        {
            Console.WriteLine(line);
            report.AppendLine(line);
        }

        string serverDll = Sample(s.Repository, "IJepa.Server");
        string featureDumpDll = Sample(s.Repository, "IJepa.FeatureDump");
        string[] photos = Directory.GetFiles(s.Photos, "*.jpg").Order(StringComparer.Ordinal).ToArray();
        if (photos.Length == 0)
        {
            Console.Error.WriteLine($"no photos in {s.Photos} (bench/photos/get-photos.sh fetches them)");
            return 2;
        }
        byte[][] images = photos.Select(File.ReadAllBytes).ToArray();
        Say($"server-load, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
        Say($"model {s.Model}; {photos.Length} photos from {s.Photos} ({images.Average(i => i.Length) / 1e6:F2} MB on average)");
        if (s.ServerOptions.Length > 0)
        {
            Say($"server options added to every start: {string.Join(' ', s.ServerOptions)}");
        }
        Say("load generator: this process, System.Net.Http.HttpClient (SocketsHttpHandler), one task per client, POST /embed with image/jpeg bodies");

        // In-process expectations: each photo encoded alone.
        float[][] expected;
        using (IJepaEncoder encoder = IJepaEncoder.Load(s.Model))
        {
            expected = images.Select(b => encoder.Encode(b).Pooled).ToArray();
        }

        // 1. FeatureDump's offline rate over the same photos, before and after the load (the machine may be shared:
        //    the load is compared with the mean of the two).
        int offlineImages = Math.Min(480, photos.Length * 40);
        if (s.Phases.Contains("load"))
        {
            double offlineBefore = OfflineRate(featureDumpDll, s.Model, photos, offlineImages, Say);

            // 2. The load.
            Say("");
            Say($"== load: {s.Clients} clients, {s.Requests} requests, {s.CorruptShare:P0} corrupt, server defaults (max batch 32, max wait 5 ms, queue 256)");
            double serverCpuBefore = CpuAccounting.ReadChildren();
            LoadResult load;
            TimeSpan clientCpu;
            await using (ServerProcess server = await ServerProcess.StartAsync(Dotnet, serverDll, ["--model", s.Model, .. s.ServerOptions], TimeSpan.FromMinutes(2)))
            {
                TimeSpan clientBefore = Process.GetCurrentProcess().TotalProcessorTime;
                CpuAccounting.Machine machineBefore = CpuAccounting.ReadMachine();
                var threadsBefore = CpuAccounting.ReadThreads(server.Process.Id);
                double processBefore = CpuAccounting.ReadProcess(server.Process.Id);
                load = await LoadAsync(server.Address, images, expected, s.Requests, s.Clients, s.CorruptShare, TimeSpan.Zero, null);
                clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientBefore;
                CpuAccounting.Machine machine = CpuAccounting.ReadMachine() - machineBefore;
                Say(load.Describe());
                // Read while the server lives (a server that died in the load ends the run here, its result said above).
                double during = CpuAccounting.ReadProcess(server.Process.Id) - processBefore;
                // Was a slow run slow because the server worked harder (and in which threads), or because the cores
                // went elsewhere (other processes; the hypervisor: steal)?
                Say($"   server's CPU during the load {during:F1} s = {during / load.GoodOk * 1000:F1} ms per good image; by thread name: " +
                    CpuAccounting.DescribeThreads(threadsBefore, CpuAccounting.ReadThreads(server.Process.Id)));
                Say($"   machine during the load: busy {machine.Busy:F1} s, idle {machine.Idle:F1} s, steal {machine.Steal:F1} s of {load.Seconds * Environment.ProcessorCount:F1} core-seconds; " +
                    $"other processes than the server and this one about {machine.Busy - during - clientCpu.TotalSeconds:F1} s");
                string metrics = await Scrape(server.Address);
                Say("batch sizes from /metrics: " + string.Join(", ", metrics.Split('\n').Where(l => l.StartsWith("ijepa_batch_size_", StringComparison.Ordinal)).Select(l => l.Replace("ijepa_batch_size_", "", StringComparison.Ordinal))));
                server.Terminate();
                Say($"server exit code {await server.WaitForExitAsync(TimeSpan.FromSeconds(15))}");
            }
            double serverCpu = CpuAccounting.ReadChildren() - serverCpuBefore;
            Say($"   server's CPU time {serverCpu:F1} s = {serverCpu / load.GoodOk * 1000:F0} ms per good image (start and model load included); " +
                $"load generator's {clientCpu.TotalSeconds:F1} s = {clientCpu.TotalMilliseconds / load.GoodOk:F0} ms per good image");
            double offlineAfter = OfflineRate(featureDumpDll, s.Model, photos, offlineImages, Say);
            double offlineRate = (offlineBefore + offlineAfter) / 2;
            double rate = load.GoodOk / load.Seconds;
            Say($"throughput {rate:F1} good images/s ({load.Ok / load.Seconds:F1} requests/s answered 200) = {rate / offlineRate:P1} of FeatureDump's offline " +
                $"{offlineRate:F1} images/s (mean of {offlineBefore:F1} before and {offlineAfter:F1} after; target >= 90%)");
        }

        // 3. Overload: a small queue, many clients, resident memory sampled throughout.
        if (s.Phases.Contains("overload"))
        {
            Say("");
            Say($"== overload: --max-queue {s.OverloadQueue}, {s.OverloadClients} clients for {s.OverloadSeconds} s (a 503 is retried at once: the most pressure)");
            await using (ServerProcess server = await ServerProcess.StartAsync(Dotnet, serverDll, ["--model", s.Model, "--max-queue", $"{s.OverloadQueue}", .. s.ServerOptions], TimeSpan.FromMinutes(2)))
            {
                var rss = new List<(double Seconds, long Bytes)>();
                var watch = Stopwatch.StartNew();
                using var stopSampling = new CancellationTokenSource();
                var heapLines = new List<string>();
                Task sampler = Task.Run(async () =>
                {
                    for (int tick = 0; !stopSampling.IsCancellationRequested; tick++)
                    {
                        rss.Add((watch.Elapsed.TotalSeconds, ProcessMemory.Resident(server.Process.Id)));
                        if (tick % 20 == 0)
                        {
                            // The heap's make-up every 10 s: by generation, free space, and collections so far.
                            // And the kernel's view: threads, and resident memory split into anonymous (heaps) and file-backed (code).
                            string kernel = string.Join(" ", File.ReadLines($"/proc/{server.Process.Id}/status")
                                .Where(l => KernelFields.Any(f => l.StartsWith(f, StringComparison.Ordinal)))
                                .Select(l => string.Join(" ", l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))));
                            heapLines.Add($"{watch.Elapsed.TotalSeconds:F0} s: {kernel} " + string.Join(" ", (await Scrape(server.Address)).Split('\n')
                                .Where(l => MemorySeries.Any(m => l.StartsWith(m, StringComparison.Ordinal)))
                                .Select(l => l.Replace("ijepa_", "", StringComparison.Ordinal))));
                        }
                        await Task.Delay(500, CancellationToken.None);
                    }
                });
                LoadResult overload = await LoadAsync(server.Address, images, expected, int.MaxValue, s.OverloadClients, 0, TimeSpan.FromSeconds(s.OverloadSeconds), null);
                await stopSampling.CancelAsync();
                await sampler;
                Say(overload.Describe());
                Say($"503 with Retry-After: {overload.BusyWithRetryAfter} of {overload.Busy}");
                // The first 15 s warm up (thread pool, Kestrel's buffers, the collector's budgets); "flat" is judged after them.
                const double WarmUp = 15;
                long atWarm = rss.First(r => r.Seconds >= WarmUp).Bytes, atEnd = rss[^1].Bytes, maxAfter = rss.Where(r => r.Seconds >= WarmUp).Max(r => r.Bytes);
                Say($"server RSS over {rss.Count} samples: min {rss.Min(r => r.Bytes) / 1e6:F0} MB, max {rss.Max(r => r.Bytes) / 1e6:F0} MB; " +
                    $"after the {WarmUp:F0} s warm-up {atWarm / 1e6:F0} MB, at the end {atEnd / 1e6:F0} MB ({(double)atEnd / atWarm - 1:+0.0%;-0.0%}), max after warm-up {maxAfter / 1e6:F0} MB");
                Say(Flatness(rss, WarmUp));
                Say("RSS samples (s: MB): " + string.Join(" ", rss.Where((_, i) => i % 4 == 0).Select(r => $"{r.Seconds:F0}:{r.Bytes / 1e6:F0}")));
                heapLines.ForEach(l => Say("heap at " + l));
                string heap = (await Scrape(server.Address)).Split('\n').Single(l => l.StartsWith("ijepa_managed_heap_bytes ", StringComparison.Ordinal));
                Say($".NET heap after the last collection, from /metrics: {long.Parse(heap.Split(' ')[1], CultureInfo.InvariantCulture) / 1e6:F0} MB");
                server.Terminate();
                Say($"server exit code {await server.WaitForExitAsync(TimeSpan.FromSeconds(15))}");
            }

        }

        // 4. SIGTERM in the middle of a load.
        if (s.Phases.Contains("sigterm"))
        {
            Say("");
            Say($"== SIGTERM mid-load: {s.Clients} clients, SIGTERM after 3 s");
            await using (ServerProcess server = await ServerProcess.StartAsync(Dotnet, serverDll, ["--model", s.Model, .. s.ServerOptions], TimeSpan.FromMinutes(2)))
            {
                var stopwatch = new Stopwatch();
                int? exit = null;
                Task terminate = Task.Run(async () =>
                {
                    await Task.Delay(3000);
                    stopwatch.Start();
                    server.Terminate();
                    exit = await server.WaitForExitAsync(TimeSpan.FromSeconds(30));
                    stopwatch.Stop();
                });
                LoadResult drained = await LoadAsync(server.Address, images, expected, int.MaxValue, s.Clients, 0, TimeSpan.FromSeconds(60), terminate);
                await terminate;
                Say(drained.Describe());
                Say($"responses whose 200 header came but whose body was cut off: {drained.CutOff}; transport errors are requests sent after the server stopped listening or closed an idle connection");
                Say($"exit code {exit} {stopwatch.Elapsed.TotalSeconds:F2} s after SIGTERM (target: within 10 s)");
            }
        }
        Say("");
        Say($"load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
        if (s.Output is { } output)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, report.ToString());
            Console.WriteLine($"wrote {output}");
        }
        return 0;
    }

    private static string Sample(string repository, string name) =>
        Path.Combine(repository, "samples", name, "bin", "Release", "net10.0", name + ".dll");

    private static double OfflineRate(string featureDumpDll, string model, string[] photos, int count, Action<string> say)
    {
        // FeatureDump reads files: symbolic links to the photos, as many as asked, in the load's round-robin order.
        string folder = Path.Combine(Path.GetTempPath(), $"ijepa-server-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(folder);
        try
        {
            for (int i = 0; i < count; i++)
            {
                string link = Path.Combine(folder, $"{i:D4}.jpg");
                if (!File.Exists(link))
                {
                    File.CreateSymbolicLink(link, photos[i % photos.Length]);
                }
            }
            var start = new ProcessStartInfo(Dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (string a in new[] { featureDumpDll, "--model", model, "--out", Path.Combine(folder, "out.npy"), folder })
            {
                start.ArgumentList.Add(a);
            }
            double cpuBefore = CpuAccounting.ReadChildren();
            using Process process = Process.Start(start)!;
            Task<string> error = process.StandardError.ReadToEndAsync();
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            _ = error.Result;
            double cpu = CpuAccounting.ReadChildren() - cpuBefore;
            string done = output.Split('\n').Single(l => l.StartsWith("done:", StringComparison.Ordinal)).Trim();
            say($"== offline: FeatureDump (defaults: batch 8, one worker per core) over {count} of the photos: {done}");
            say($"   FeatureDump's CPU time {cpu:F1} s = {cpu / count * 1000:F0} ms per image (process start and model load included)");
            string rate = done.Split(", ").Single(p => p.EndsWith("images/s", StringComparison.Ordinal)).Split(' ')[0];
            return double.Parse(rate, CultureInfo.InvariantCulture);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static async Task<string> Scrape(Uri address)
    {
        using var client = new HttpClient { BaseAddress = address };
        return await client.GetStringAsync(new Uri("/metrics", UriKind.Relative));
    }

    private sealed class LoadResult
    {
        public int Ok;
        public int GoodOk;
        public int Unprocessable;
        public int Busy;
        public int BusyWithRetryAfter;
        public int OtherStatus;
        public int Transport;
        public int CutOff;
        public int Exact;
        public int Mismatch;
        public float WorstDifference;
        public double Seconds;
        public readonly List<double> Latencies = [];
        public readonly List<double> GoodLatencies = [];
        public readonly Dictionary<string, int> TransportKinds = [];

        public string Describe()
        {
            double[] all = [.. Latencies.Order()], good = [.. GoodLatencies.Order()];
            string kinds = TransportKinds.Count == 0 ? "" : " (" + string.Join(", ", TransportKinds.Select(k => $"{k.Key}: {k.Value}")) + ")";
            return $"{Latencies.Count + Transport} requests in {Seconds:F1} s: 200 {Ok}, 422 {Unprocessable}, 503 {Busy}, other status {OtherStatus}, transport errors {Transport}{kinds}\n" +
                $"good images answered 200: {GoodOk}; equal to in-process encoding: {Exact} bit-exact, {GoodOk - Exact - Mismatch} within 1e-5, {Mismatch} beyond (largest difference {WorstDifference:G3})\n" +
                $"latency, all answered requests: p50 {Percentile(all, 0.5) * 1000:F0} ms, p99 {Percentile(all, 0.99) * 1000:F0} ms; good images answered 200: p50 {Percentile(good, 0.5) * 1000:F0} ms, p99 {Percentile(good, 0.99) * 1000:F0} ms";
        }

        private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    }

    /// <summary>
    /// "RSS flat", stated so a reader can check it: after the warm-up, the run in tenths, each with its lowest and
    /// highest sample; and the trend of the second half (least squares, MB per hour), where pools that fill would
    /// still show as a rise and a leak as a steady one.
    /// </summary>
    private static string Flatness(List<(double Seconds, long Bytes)> rss, double warmUp)
    {
        var after = rss.Where(r => r.Seconds >= warmUp).ToList();
        double start = after[0].Seconds, length = after[^1].Seconds - start;
        if (length <= 0)
        {
            return "RSS trend: too short a run";
        }
        var tenths = after.GroupBy(r => Math.Min(9, (int)((r.Seconds - start) / length * 10)))
            .Select(g => $"{g.First().Seconds:F0}-{g.Last().Seconds:F0} s {g.Min(r => r.Bytes) / 1e6:F0}-{g.Max(r => r.Bytes) / 1e6:F0}");
        var half = after.Where(r => r.Seconds >= start + (length / 2)).ToList();
        double meanT = half.Average(r => r.Seconds), meanB = half.Average(r => (double)r.Bytes);
        double slope = half.Sum(r => (r.Seconds - meanT) * (r.Bytes - meanB)) / half.Sum(r => (r.Seconds - meanT) * (r.Seconds - meanT));
        return $"RSS by tenths of the run after the warm-up (MB): {string.Join("; ", tenths)}\n" +
            $"RSS trend over the second half ({half[0].Seconds:F0}-{half[^1].Seconds:F0} s, least squares): {slope * 3600 / 1e6:+0.0;-0.0} MB per hour; " +
            $"range {half.Min(r => r.Bytes) / 1e6:F0}-{half.Max(r => r.Bytes) / 1e6:F0} MB";
    }

    /// <summary>
    /// Runs <paramref name="clients"/> clients until <paramref name="requests"/> have been sent, <paramref name="duration"/>
    /// has passed (when not zero), or <paramref name="stop"/> has ended (then the clients stop starting new requests).
    /// Request i is corrupt when i falls in the corrupt share (spread evenly), else photo i mod count.
    /// </summary>
    private static async Task<LoadResult> LoadAsync(Uri address, byte[][] images, float[][] expected, int requests, int clients, double corruptShare,
        TimeSpan duration, Task? stop)
    {
        var result = new LoadResult();
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };
        int next = -1;
        var watch = Stopwatch.StartNew();
        byte[] garbage = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, (byte)'J', (byte)'F', (byte)'I', (byte)'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xDB, 0x13];
        byte[] text = Encoding.UTF8.GetBytes("this is not an image at all");
        int corruptEvery = corruptShare > 0 ? (int)Math.Round(1 / corruptShare) : int.MaxValue;
        async Task Client()
        {
            while (true)
            {
                int i = Interlocked.Increment(ref next);
                if (i >= requests || (duration > TimeSpan.Zero && watch.Elapsed > duration) || stop is { IsCompleted: true })
                {
                    return;
                }
                bool corrupt = i % corruptEvery == corruptEvery - 1;
                int photo = i % images.Length;
                byte[] body = corrupt ? (i / corruptEvery % 2 == 0 ? garbage : text) : images[photo];
                using var content = new ByteArrayContent(body);
                content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                long started = Stopwatch.GetTimestamp();
                HttpResponseMessage response;
                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/embed", UriKind.Relative)) { Content = content };
                    response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                }
                catch (HttpRequestException e)
                {
                    lock (result)
                    {
                        result.Transport++;
                        string kind = e.HttpRequestError.ToString();
                        result.TransportKinds[kind] = result.TransportKinds.GetValueOrDefault(kind) + 1;
                    }
                    if (stop is not null)
                    {
                        return; // the server is going away
                    }
                    continue;
                }
                using (response)
                {
                    byte[] answer;
                    try
                    {
                        answer = await response.Content.ReadAsByteArrayAsync();
                    }
                    catch (Exception e) when (e is HttpRequestException or IOException)
                    {
                        lock (result)
                        {
                            result.CutOff++;
                            result.Transport++;
                        }
                        continue;
                    }
                    double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                    float[]? pooled = null;
                    if (response.StatusCode == HttpStatusCode.OK && !corrupt)
                    {
                        using JsonDocument json = JsonDocument.Parse(answer);
                        pooled = json.RootElement.GetProperty("pooled").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                    }
                    lock (result)
                    {
                        result.Latencies.Add(seconds);
                        switch (response.StatusCode)
                        {
                            case HttpStatusCode.OK:
                                result.Ok++;
                                if (pooled is not null)
                                {
                                    result.GoodOk++;
                                    result.GoodLatencies.Add(seconds);
                                    float worst = expected[photo].Zip(pooled, (a, b) => Math.Abs(a - b)).Max();
                                    result.WorstDifference = Math.Max(result.WorstDifference, worst);
                                    if (worst == 0)
                                    {
                                        result.Exact++;
                                    }
                                    else if (worst > 1e-5f)
                                    {
                                        result.Mismatch++;
                                    }
                                }
                                else if (corrupt)
                                {
                                    result.OtherStatus++; // a corrupt image must not succeed
                                }
                                break;
                            case HttpStatusCode.UnprocessableEntity:
                                result.Unprocessable++;
                                if (!corrupt)
                                {
                                    result.OtherStatus++;
                                }
                                break;
                            case HttpStatusCode.ServiceUnavailable:
                                result.Busy++;
                                if (response.Headers.RetryAfter is not null)
                                {
                                    result.BusyWithRetryAfter++;
                                }
                                break;
                            default:
                                result.OtherStatus++;
                                break;
                        }
                    }
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(Client)));
        result.Seconds = watch.Elapsed.TotalSeconds;
        return result;
    }
}
