using System.Diagnostics;
using System.Globalization;
using IJepa.Fuzz;

// Fuzzes the public API with mutated inputs (not part of CI; a deterministic subset and every saved
// regression case run in the test suite). Pass criterion per input: a valid result or the target's typed
// exception; never another exception, process death, more than 10 s, or more than 1 GB resident.
//   dotnet run --project tests/IJepa.Fuzz -c Release -- run [--formats png,jpeg,...] [--count 10000] [--seed 1] [--out DIR]
//   dotnet run --project tests/IJepa.Fuzz -c Release -- replay --format png FILE...
//   dotnet run --project tests/IJepa.Fuzz -c Release -- soak [--images 2000] [--warm-up 500] [--model DIR]
//   dotnet run --project tests/IJepa.Fuzz -c Release -- pillow --corpus DIR [--list]
//     (agreement with Pillow 9.4 on a damaged-image corpus from tests/reference/damaged/generate_damaged.py)
// Each format runs in a worker process; if the worker dies, hangs or grows too large, the input it was on
// is saved under DIR/findings and the run goes on from the next input.
string repository = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "../../../../.."));
string images = Path.Combine(repository, "tests", "reference", "images", "input");
string original = Path.Combine(repository, "tests", "reference", "original");
string command = args.Length > 0 ? args[0] : "run";
string outDir = Path.GetFullPath(Option("--out") ?? Path.Combine(Path.GetTempPath(), "ijepa-fuzz"));
ulong seed = ulong.Parse(Option("--seed") ?? "1", CultureInfo.InvariantCulture);
const int TimeLimitSeconds = 10;
const long MemoryLimitBytes = 1L << 30;

switch (command)
{
    case "run":
        {
            string[] formats = (Option("--formats") ?? string.Join(",", FuzzTargets.Names)).Split(',');
            long count = long.Parse(Option("--count") ?? "10000", CultureInfo.InvariantCulture);
            Directory.CreateDirectory(Path.Combine(outDir, "findings"));
            var summary = new List<string> { "| format | inputs | accepted | refused (typed) | findings | seconds |", "|---|---|---|---|---|---|" };
            int findings = 0;
            foreach (string format in formats)
            {
                (long accepted, long refused, int found, double seconds) = Supervise(format, count);
                findings += found;
                summary.Add($"| {format} | {count} | {accepted} | {refused} | {found} | {seconds:F0} |");
                Console.WriteLine(summary[^1]);
            }
            File.WriteAllLines(Path.Combine(outDir, "summary.md"), summary);
            Console.WriteLine(string.Join('\n', summary));
            Console.WriteLine($"findings (if any) are in {Path.Combine(outDir, "findings")}");
            return findings == 0 ? 0 : 1;
        }
    case "worker":
        {
            string format = Option("--format")!;
            long from = long.Parse(Option("--from")!, CultureInfo.InvariantCulture);
            long to = long.Parse(Option("--to")!, CultureInfo.InvariantCulture);
            FuzzTarget target = FuzzTargets.Create(format, images, Path.Combine(outDir, "work-" + format), original);
            string current = Path.Combine(outDir, $"current-{format}.bin");
            long started = Stopwatch.GetTimestamp();
            long busyIndex = -1;
            int statEvery = int.Parse(Option("--stat") ?? "0", CultureInfo.InvariantCulture);
            var watchdog = new Thread(() =>
            {
                while (true)
                {
                    Thread.Sleep(100);
                    long index = Interlocked.Read(ref busyIndex);
                    if (index >= 0 && Stopwatch.GetElapsedTime(Interlocked.Read(ref started)).TotalSeconds > TimeLimitSeconds)
                    {
                        Console.WriteLine($"HANG {index} more than {TimeLimitSeconds} s");
                        Environment.Exit(3);
                    }
                    long rss = Environment.WorkingSet;
                    if (rss > MemoryLimitBytes)
                    {
                        // Garbage the GC has not collected yet is not memory an input holds: collect
                        // (compacting, with malloc_trim) and judge what is left.
                        rss = Settle.Resident();
                    }
                    if (rss > MemoryLimitBytes)
                    {
                        Console.WriteLine($"MEMORY {index} {rss / 1e9:F2} GB resident");
                        Environment.Exit(4);
                    }
                }
            })
            { IsBackground = true };
            watchdog.Start();
            for (long i = from; i < to; i++)
            {
                byte[] input = target.Input(seed, i);
                File.WriteAllBytes(current, input);
                Console.WriteLine($"BEGIN {i}");
                Interlocked.Exchange(ref started, Stopwatch.GetTimestamp());
                Interlocked.Exchange(ref busyIndex, i);
                string outcome;
                try
                {
                    target.Run(input);
                    outcome = "ACCEPTED";
                }
                catch (Exception e) when (target.IsExpected(e))
                {
                    outcome = "REFUSED";
                }
                catch (Exception e)
                {
                    outcome = $"FAIL {e.GetType().FullName}: {e.Message.ReplaceLineEndings(" ")}";
                    // Saved here: by the time the supervisor reads the line, current-FORMAT.bin holds a later input.
                    Directory.CreateDirectory(Path.Combine(outDir, "findings"));
                    File.WriteAllBytes(Path.Combine(outDir, "findings", $"{format}-{i}.bin"), input);
                }
                Interlocked.Exchange(ref busyIndex, -1);
                Console.WriteLine($"{outcome.Split(' ')[0]} {i} {outcome}");
                if (i % 1000 == 999)
                {
                    // Housekeeping, as a long-running service's GC would do under memory pressure: on a
                    // 24 GB machine the GC otherwise lets dead buffers and fragmented heaps pass 1 GB.
                    Settle.Resident();
                }
                if (statEvery > 0 && i % statEvery == 0)
                {
                    // Informational (--stat N); the supervisor ignores these lines.
                    Console.WriteLine($"STAT {i} settled resident {Settle.Resident() / 1e6:F0} MB, managed committed {GC.GetGCMemoryInfo().TotalCommittedBytes / 1e6:F0} MB");
                }
            }
            Console.WriteLine("END");
            return 0;
        }
    case "emit":
        {
            // Writes one generated input, e.g. to turn a finding from a log into a regression case.
            string format = Option("--format")!;
            FuzzTarget target = FuzzTargets.Create(format, images, Path.Combine(outDir, "work-" + format), original);
            File.WriteAllBytes(Option("--to")!, target.Input(seed, long.Parse(Option("--index")!, CultureInfo.InvariantCulture)));
            return 0;
        }
    case "replay":
        {
            string format = Option("--format")!;
            FuzzTarget target = FuzzTargets.Create(format, images, Path.Combine(outDir, "work-" + format), original);
            int bad = 0;
            foreach (string file in args.Skip(1).Where(a => !a.StartsWith("--", StringComparison.Ordinal) && a != format))
            {
                try
                {
                    target.Run(File.ReadAllBytes(file));
                    Console.WriteLine($"{file}: accepted");
                }
                catch (Exception e) when (target.IsExpected(e))
                {
                    Console.WriteLine($"{file}: refused: {e.Message}");
                }
                catch (Exception e)
                {
                    bad++;
                    Console.WriteLine($"{file}: FAIL {e}");
                }
            }
            return bad == 0 ? 0 : 1;
        }
    case "soak":
        return Soak.Run(int.Parse(Option("--images") ?? "2000", CultureInfo.InvariantCulture),
            Option("--model") ?? Path.Combine(repository, "samples", "IJepa.FeatureDump", "demo-model"), images,
            int.Parse(Option("--warm-up") ?? "500", CultureInfo.InvariantCulture));
    case "pillow":
        return PillowAgreement.Run(Option("--corpus") ?? Path.Combine(Path.GetTempPath(), "damaged-corpus"), args.Contains("--list"));
    default:
        Console.Error.WriteLine("commands: run, replay, soak, pillow (worker is internal)");
        return 2;
}

(long Accepted, long Refused, int Findings, double Seconds) Supervise(string format, long count)
{
    long next = 0, accepted = 0, refused = 0;
    int found = 0;
    var watch = Stopwatch.StartNew();
    while (next < count)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "worker", "--format", format, "--from", next.ToString(CultureInfo.InvariantCulture), "--to", count.ToString(CultureInfo.InvariantCulture), "--seed", seed.ToString(CultureInfo.InvariantCulture), "--out", outDir })
        {
            start.ArgumentList.Add(a);
        }
        using Process worker = Process.Start(start)!;
        _ = worker.StandardError.ReadToEndAsync();
        long current = next;
        bool ended = false;
        string? line;
        while ((line = worker.StandardOutput.ReadLine()) != null)
        {
            string[] parts = line.Split(' ', 3);
            switch (parts[0])
            {
                case "BEGIN":
                    current = long.Parse(parts[1], CultureInfo.InvariantCulture);
                    break;
                case "ACCEPTED":
                    accepted++;
                    break;
                case "REFUSED":
                    refused++;
                    break;
                case "FAIL":
                    found++;
                    Save(format, current, line, copyCurrent: false);
                    break;
                case "HANG":
                case "MEMORY":
                    found++;
                    Save(format, current, line, copyCurrent: true);
                    break;
                case "END":
                    ended = true;
                    break;
            }
            if (parts[0] is "ACCEPTED" or "REFUSED" && (current + 1) % 1000 == 0)
            {
                Console.WriteLine($"{format}: {current + 1}/{count} ({watch.Elapsed.TotalSeconds:F0} s)");
            }
        }
        worker.WaitForExit();
        if (ended)
        {
            break;
        }
        if (worker.ExitCode is not (3 or 4))
        {
            found++;
            Save(format, current, $"CRASH {current} worker died with exit code {worker.ExitCode}", copyCurrent: true);
        }
        next = current + 1;
    }
    return (accepted, refused, found, watch.Elapsed.TotalSeconds);
}

void Save(string format, long index, string reason, bool copyCurrent)
{
    string name = Path.Combine(outDir, "findings", $"{format}-{index}");
    if (copyCurrent)
    {
        // The worker stopped on this input, so the current file is still it.
        File.Copy(Path.Combine(outDir, $"current-{format}.bin"), name + ".bin", overwrite: true);
    }
    File.WriteAllText(name + ".txt", reason + "\n");
    Console.WriteLine($"finding: {name}.bin: {reason}");
}

string? Option(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
