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
    private const double TicksPerSecond = 100; // USER_HZ: fixed at 100 in Linux's user ABI on x86 and ARM

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
    /// The name and CPU seconds of each of a process's live threads, by thread id (the kernel keeps 15 characters of a
    /// name: "IJepa.Server de" is the decode workers).
    /// </summary>
    public static Dictionary<int, (string Name, double Seconds)> ReadThreads(int processId)
    {
        var threads = new Dictionary<int, (string, double)>();
        foreach (string task in Directory.EnumerateDirectories($"/proc/{processId}/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread exited between the listing and the read (FileNotFoundException, or ESRCH)
            }
            int open = stat.IndexOf('('), close = stat.LastIndexOf(')');
            threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (stat[(open + 1)..close], Seconds(stat, Utime));
        }
        return threads;
    }

    /// <summary>CPU seconds of a process so far (all its threads, exited ones included).</summary>
    public static double ReadProcess(int processId) => Seconds(File.ReadAllText($"/proc/{processId}/stat"), Utime);

    /// <summary>
    /// CPU seconds (user + system) of this process's children that have exited and been waited for: on a shared
    /// machine the share of the CPU a run gets varies, the CPU time each image costs does not.
    /// </summary>
    public static double ReadChildren() => Seconds(File.ReadAllText("/proc/self/stat"), ChildrenUtime);

    // Fields of proc(5)'s stat line counted from the state field (3), the first after the name's closing parenthesis:
    // utime and stime are fields 14 and 15 (indexes 11 and 12), cutime and cstime 16 and 17 (13 and 14).
    private const int Utime = 11, ChildrenUtime = 13;

    /// <summary>The user and the system time that follow each other from <paramref name="index"/> in a stat line, seconds.</summary>
    private static double Seconds(string stat, int index)
    {
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[index], CultureInfo.InvariantCulture) + long.Parse(fields[index + 1], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }

    /// <summary>
    /// "'name' 12.3 s (n threads)" for each thread name whose threads used CPU between two readings, largest first: a
    /// thread's time since the first reading, or since it started if it is newer; threads gone by the second are left out.
    /// </summary>
    public static string DescribeThreads(Dictionary<int, (string Name, double Seconds)> before, Dictionary<int, (string Name, double Seconds)> after) =>
        string.Join(", ", after
            .Select(t => (t.Value.Name, Seconds: t.Value.Seconds - (before.TryGetValue(t.Key, out var b) ? b.Seconds : 0)))
            .GroupBy(t => t.Name, StringComparer.Ordinal)
            .Select(g => (Name: g.Key, Seconds: g.Sum(t => t.Seconds), Threads: g.Count(t => t.Seconds > 0)))
            .Where(g => g.Seconds > 0)
            .OrderByDescending(g => g.Seconds)
            .Select(g => $"'{g.Name}' {g.Seconds:F1} s ({g.Threads} {(g.Threads == 1 ? "thread" : "threads")})"));
}
