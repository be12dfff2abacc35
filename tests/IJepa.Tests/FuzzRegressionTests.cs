using IJepa.Benchmarks;
using IJepa.Fuzz;

namespace IJepa.Tests;

/// <summary>
/// The fuzzer's pass criterion in the normal test suite: every input that ever broke something
/// (tests/fuzz/regressions/FORMAT/*.bin) and a fixed, deterministic sample of mutated inputs per format
/// must give a valid result or the target's typed exception. Saved cases must also stay within a resident-memory
/// bound, native memory included: several of them once took a gigabyte.
/// </summary>
[Collection(nameof(ProcessWide))] // alone in the process, so that its resident-memory peak is its own
public class FuzzRegressionTests
{
    /// <summary>
    /// Growth of the process's peak resident set over one saved case. The cases that once broke the memory limits
    /// took 0.96–1.27 GB (PNG, with the old pixel limit) and 987 MB (TIFF, without the allocation budget).
    /// </summary>
    private const long RegressionMemoryBound = 256L * 1024 * 1024;

    private const int InputsPerFormat = 40;

    private static string Images => Path.Combine(AppContext.BaseDirectory, "images", "input");

    public static TheoryData<string> Formats() => [.. FuzzTargets.Names];

    /// <summary>The formats that have saved cases (a format without any has no row).</summary>
    public static TheoryData<string> FormatsWithCases() => [.. SavedFormats()];

    private static string[] SavedFormats() =>
        [.. FuzzTargets.Names.Where(f => Directory.Exists(Path.Combine(AppContext.BaseDirectory, "fuzz-regressions", f)))];

    [Theory]
    [MemberData(nameof(Formats))]
    public void A_deterministic_sample_of_mutated_inputs_is_handled(string format)
    {
        using TempFolder work = TestData.NewFolder();
        FuzzTarget target = FuzzTargets.Create(format, Images, work.Path, Path.Combine(AppContext.BaseDirectory, "original"));
        var failures = new List<string>();
        for (int i = 0; i < InputsPerFormat; i++)
        {
            byte[] input = target.Input(runSeed: 20261128, i);
            Check(target, input, $"{format} #{i}", failures);
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void Saved_cases_exist_where_the_fuzzer_found_something()
    {
        // Guards the theory below against an empty data set (a broken copy of the folder would pass vacuously).
        Assert.Superset(new HashSet<string> { "bmp", "checkpoint_pickle", "png", "tiff" }, new HashSet<string>(SavedFormats()));
    }

    [Theory]
    [MemberData(nameof(FormatsWithCases))]
    public void Every_saved_regression_case_is_handled_within_bounded_memory(string format)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "fuzz-regressions", format);
        using TempFolder work = TestData.NewFolder();
        FuzzTarget target = FuzzTargets.Create(format, Images, work.Path, Path.Combine(AppContext.BaseDirectory, "original"));
        var failures = new List<string>();
        string[] files = Directory.GetFiles(folder, "*.bin").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        foreach (string file in files)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ProcessMemory.ResetPeak();
            long before = ProcessMemory.Resident();
            Check(target, File.ReadAllBytes(file), Path.GetFileName(file), failures);
            long growth = ProcessMemory.Peak() - before;
            if (growth > RegressionMemoryBound)
            {
                failures.Add($"{Path.GetFileName(file)}: peak resident memory grew {growth / 1e6:F0} MB (bound {RegressionMemoryBound / 1e6:F0} MB)");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static void Check(FuzzTarget target, byte[] input, string label, List<string> failures)
    {
        var task = Task.Run(() => target.Run(input));
        try
        {
            if (!task.Wait(TimeSpan.FromSeconds(10)))
            {
                failures.Add($"{label}: more than 10 s");
            }
        }
        catch (AggregateException e) when (e.InnerException is { } inner && !target.IsExpected(inner))
        {
            failures.Add($"{label}: {inner.GetType().Name}: {inner.Message}");
        }
        catch (AggregateException)
        {
            // the typed refusal
        }
    }
}

