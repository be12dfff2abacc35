using System.Globalization;

namespace IJepa.Benchmarks;

/// <summary>
/// Where CPU time went, from /proc (Linux; clock ticks of 1/100 s): the machine's busy, idle and stolen time, and a
/// process's time by thread name. For telling a run that was slow because its server worked harder (more CPU per
/// image, and in which threads) from one that was slow because something else had the cores (other processes, or the
/// hypervisor: steal).
/// </summary>
internal static class CpuAccounting
{
    private const double TicksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on

    /// <summary>The machine's CPU time so far, seconds over all cores.</summary>
    public readonly record struct Machine(double Busy, double Idle, double Steal)
    {
        public static Machine operator -(Machine a, Machine b) => new(a.Busy - b.Busy, a.Idle - b.Idle, a.Steal - b.Steal);
    }

    public static Machine ReadMachine()
    {
        // /proc/stat's first line: cpu user nice system idle iowait irq softirq steal guest guest_nice
        string[] f = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        double Field(int i) => long.Parse(f[i], CultureInfo.InvariantCulture) / TicksPerSecond;
        return new Machine(Busy: Field(1) + Field(2) + Field(3) + Field(6) + Field(7), Idle: Field(4) + Field(5), Steal: Field(8));
    }

    /// <summary>
    /// CPU seconds of each of a process's live threads, summed by thread name (the kernel keeps 15 characters:
    /// "IJepa.Server de" is the decode workers). Threads that have exited are not counted.
    /// </summary>
    public static Dictionary<string, double> ReadThreads(int processId)
    {
        var byName = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread exited between the listing and the read
            }
            int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
            string name = stat[(open + 1)..close];
            string[] fields = stat[(close + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 of proc(5), counted from the state field (3): indexes 11 and 12 here.
            double seconds = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
            byName[name] = byName.GetValueOrDefault(name) + seconds;
        }
        return byName;
    }

    /// <summary>CPU seconds of a process so far (all its threads, exited ones included).</summary>
    public static double ReadProcess(int processId)
    {
        string stat = File.ReadAllText($"/proc/{processId}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>"'name' 12.3 s" for each thread name whose time grew between two readings, largest first.</summary>
    public static string DescribeThreads(Dictionary<string, double> before, Dictionary<string, double> after) =>
        string.Join(", ", after
            .Select(kv => (Name: kv.Key, Seconds: kv.Value - before.GetValueOrDefault(kv.Key)))
            .Where(t => t.Seconds > 0)
            .OrderByDescending(t => t.Seconds)
            .Select(t => $"'{t.Name}' {t.Seconds:F1} s"));
}
