using System.Diagnostics;
using System.Reflection;

namespace IJepa.Tests;

/// <summary>Runs the dotnet CLI from tests (packing, consuming the package, running samples).</summary>
internal static class DotnetCli
{
    public static string RepositoryRoot { get; } = typeof(DotnetCli).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;

    public static string Configuration { get; } = typeof(DotnetCli).Assembly
        .GetCustomAttribute<AssemblyConfigurationAttribute>()!.Configuration;

    public sealed record Result(int ExitCode, string Output, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
    }

    public static string Dotnet { get; } =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>The built sample's entry assembly (built before the tests by a project reference).</summary>
    public static string Sample(string name) =>
        Path.Combine(RepositoryRoot, "samples", name, "bin", Configuration, "net10.0", name + ".dll");

    public static Result Run(string workingDirectory, TimeSpan timeout, params string[] arguments) =>
        RunProgram(Dotnet, workingDirectory, timeout, arguments);

    public static Result RunProgram(string program, string workingDirectory, TimeSpan timeout, params string[] arguments) =>
        RunProgram(program, workingDirectory, timeout, null, arguments);

    /// <summary>Runs a program with extra environment variables for it alone (a null value removes the variable).</summary>
    public static Result RunProgram(string program, string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        // The test host runs inside an MSBuild/VSTest environment; a child build must not inherit it.
        foreach (string name in new[] { "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
        {
            start.Environment.Remove(name);
        }
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
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
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran past {timeout}.");
        }
        process.WaitForExit();
        return new Result(process.ExitCode, output.Result, error.Result);
    }
}
