using IJepa.Fuzz;

namespace IJepa.Tests;

/// <summary>
/// The fuzzer's pass criterion in the normal test suite: every input that ever broke something
/// (tests/fuzz/regressions/FORMAT/*.bin) and a fixed, deterministic sample of mutated inputs per format
/// must give a valid result or the target's typed exception.
/// </summary>
public class FuzzRegressionTests
{
    private const int InputsPerFormat = 40;

    private static string Images => Path.Combine(AppContext.BaseDirectory, "images", "input");

    public static TheoryData<string> Formats() => [.. FuzzTargets.Names];

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

    [Theory]
    [MemberData(nameof(Formats))]
    public void Every_saved_regression_case_is_handled(string format)
    {
        string folder = Path.Combine(AppContext.BaseDirectory, "fuzz-regressions", format);
        if (!Directory.Exists(folder))
        {
            return; // no case has been found for this format
        }
        using TempFolder work = TestData.NewFolder();
        FuzzTarget target = FuzzTargets.Create(format, Images, work.Path, Path.Combine(AppContext.BaseDirectory, "original"));
        var failures = new List<string>();
        foreach (string file in Directory.GetFiles(folder, "*.bin").Order(StringComparer.Ordinal))
        {
            Check(target, File.ReadAllBytes(file), Path.GetFileName(file), failures);
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
