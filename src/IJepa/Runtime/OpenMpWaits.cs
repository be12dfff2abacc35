using System.Runtime.InteropServices;

namespace IJepa;

/// <summary>The C library's environment, which OpenMP reads; .NET keeps a copy of its own off Windows.</summary>
internal static partial class OpenMpWaits
{
    /// <summary>The variables that say how OpenMP threads wait (GNU, LLVM and Intel OpenMP).</summary>
    public static readonly string[] Variables = ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"];

    /// <summary>True when one of <see cref="Variables"/> has a value: the environment has chosen.</summary>
    public static bool EnvironmentChose(Func<string, string?> read) => Variables.Any(v => read(v) is { Length: > 0 });

    public static bool SetPassive()
    {
        if (OperatingSystem.IsWindows())
        {
            // .NET changes the Win32 environment block there, which Intel OpenMP reads (not run on Windows here).
            Environment.SetEnvironmentVariable("OMP_WAIT_POLICY", "PASSIVE");
            return true;
        }
        try
        {
            return SetEnv("OMP_WAIT_POLICY", "PASSIVE", 1) == 0;
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}
