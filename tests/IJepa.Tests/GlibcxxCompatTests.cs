using System.Reflection;
using System.Runtime.InteropServices;
using IJepa.Build;

namespace IJepa.Tests;

/// <summary>The build-time fix that lets TorchSharp 0.107.0 load on systems with GCC 12's libstdc++ (Debian 12, Ubuntu 22.04).</summary>
public class GlibcxxCompatTests
{
    private const string Version = "GLIBCXX_3.4.32";
    private const string Symbol = "_ZSt21ios_base_library_initv";
    private static readonly HashSet<string> Allowed = [Symbol];

    private static string PackageLibrary =>
        Path.Combine(typeof(GlibcxxCompatTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "TorchSharpNativeDir").Value!, "libLibTorchSharp.so");

    private static string OutputLibrary => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    private static bool IsLinuxX64 => RuntimeInformation.IsOSPlatform(OSPlatform.Linux) && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    [Fact]
    public void Only_the_iostream_init_symbol_is_bound_to_the_new_version()
    {
        if (!IsLinuxX64)
        {
            return;
        }
        var inspected = ElfVersionRequirement.Inspect(PackageLibrary, Version);
        Assert.NotNull(inspected);
        Assert.Equal([Symbol], inspected.Value.Symbols);
        Assert.False(inspected.Value.Weak);
    }

    [Fact]
    public void Weakening_changes_one_flag_and_is_idempotent()
    {
        if (!IsLinuxX64)
        {
            return;
        }
        using TempFolder folder = TestData.NewFolder();
        string once = folder.File("once.so"), twice = folder.File("twice.so");
        Assert.Equal(WeakenOutcome.Weakened, ElfVersionRequirement.Weaken(PackageLibrary, once, Version, Allowed));
        Assert.Equal(WeakenOutcome.AlreadyWeak, ElfVersionRequirement.Weaken(once, twice, Version, Allowed));

        byte[] original = File.ReadAllBytes(PackageLibrary), patched = File.ReadAllBytes(once);
        Assert.Equal(original.Length, patched.Length);
        int[] changed = Enumerable.Range(0, original.Length).Where(i => original[i] != patched[i]).ToArray();
        Assert.Single(changed);
        Assert.Equal(original[changed[0]] | 0x2, patched[changed[0]]);
        Assert.Equal(patched, File.ReadAllBytes(twice));
        Assert.True(ElfVersionRequirement.Inspect(once, Version)!.Value.Weak);
    }

    [Fact]
    public void It_refuses_when_other_symbols_are_bound_to_the_version()
    {
        if (!IsLinuxX64)
        {
            return;
        }
        using TempFolder folder = TestData.NewFolder();
        var error = Assert.Throws<InvalidDataException>(() =>
            ElfVersionRequirement.Weaken(PackageLibrary, folder.File("x.so"), Version, new HashSet<string>()));
        Assert.Contains(Symbol, error.Message, StringComparison.Ordinal);
        Assert.Contains("refusing", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("x.so")));
    }

    [Fact]
    public void A_library_without_the_requirement_is_left_alone()
    {
        if (!IsLinuxX64)
        {
            return;
        }
        byte[] image = File.ReadAllBytes(PackageLibrary);
        byte[] copy = (byte[])image.Clone();
        Assert.Equal(WeakenOutcome.NotRequired, ElfVersionRequirement.Weaken(copy, "GLIBCXX_9.9.99", Allowed, "lib"));
        Assert.Equal(image, copy);
    }

    [Fact]
    public void Files_that_are_not_elf_are_rejected()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionRequirement.Weaken(TestData.Utf8("not an elf file, just text........................................................"), Version, Allowed, "text"));
        byte[] truncated = File.Exists(PackageLibrary) ? File.ReadAllBytes(PackageLibrary)[..4096] : [0x7f, (byte)'E', (byte)'L', (byte)'F'];
        Assert.Throws<InvalidDataException>(() => ElfVersionRequirement.Weaken(truncated, Version, Allowed, "truncated"));
    }

    [Fact]
    public void The_build_output_carries_the_fix_exactly_when_the_system_needs_it()
    {
        if (!IsLinuxX64)
        {
            return;
        }
        string? system = ElfVersionRequirement.FindSystemLibStdCxx();
        Assert.NotNull(system);
        bool systemHasVersion = ElfVersionRequirement.Defines(system, Version);
        if (systemHasVersion)
        {
            Assert.Equal(File.ReadAllBytes(PackageLibrary), File.ReadAllBytes(OutputLibrary));
        }
        else
        {
            Assert.True(ElfVersionRequirement.Inspect(OutputLibrary, Version)!.Value.Weak);
        }

        // And this process really runs on it: TorchSharp is loaded from the output folder, not the NuGet cache.
        using Tensor probe = ones(2, 2);
        string maps = File.ReadAllText("/proc/self/maps");
        Assert.Contains(OutputLibrary, maps, StringComparison.Ordinal);
        Assert.DoesNotContain(PackageLibrary, maps, StringComparison.Ordinal);
    }
}
