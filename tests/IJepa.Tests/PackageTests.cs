using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using IJepa.Build;

namespace IJepa.Tests;

/// <summary>
/// The NuGet package as a consumer gets it: packed from this build, restored from a local folder feed
/// into a fresh console app outside the repository (so none of the repository's build files help it),
/// built against TorchSharp-cpu and run. On Debian 12 this also proves the package's buildTransitive
/// libstdc++ fix: without it libLibTorchSharp.so does not load.
/// </summary>
public class PackageTests
{
    [Fact]
    public void The_packed_library_works_in_a_fresh_console_app()
    {
        using TempFolder work = TestData.NewFolder();
        string feed = Directory.CreateDirectory(work.File("feed")).FullName;
        // A version of its own per run, so that the restore can never pick a stale copy from the NuGet cache.
        string version = "0.0.0-packtest." + DateTime.UtcNow.ToString("yyyyMMddHHmmssfff", CultureInfo.InvariantCulture);
        DotnetCli.Result pack = DotnetCli.Run(DotnetCli.RepositoryRoot, TimeSpan.FromMinutes(5),
            "pack", "src/IJepa/IJepa.csproj", "-c", DotnetCli.Configuration, "--no-build", "-o", feed, $"-p:PackageVersion={version}");
        Assert.True(pack.ExitCode == 0, pack.ToString());

        string package = Path.Combine(feed, $"IJepa.{version}.nupkg");
        using (ZipArchive zip = ZipFile.OpenRead(package))
        {
            string[] entries = zip.Entries.Select(e => e.FullName).ToArray();
            foreach (string expected in new[] { "README.md", "lib/net10.0/IJepa.dll", "lib/net10.0/IJepa.xml", "buildTransitive/IJepa.targets", "buildTransitive/GlibcxxCompat.cs", "build/IJepa.targets" })
            {
                Assert.Contains(expected, entries);
            }
            using Stream nuspecStream = zip.GetEntry("IJepa.nuspec")!.Open();
            XElement nuspec = XElement.Load(nuspecStream);
            XNamespace ns = nuspec.Name.Namespace;
            XElement metadata = nuspec.Element(ns + "metadata")!;
            Assert.Equal("MIT", metadata.Element(ns + "license")!.Value);
            Assert.Equal("expression", metadata.Element(ns + "license")!.Attribute("type")!.Value);
            Assert.Equal("README.md", metadata.Element(ns + "readme")!.Value);
            string[] dependencies = metadata.Descendants(ns + "dependency").Select(d => d.Attribute("id")!.Value).ToArray();
            Assert.Contains("TorchSharp", dependencies);
            Assert.DoesNotContain("TorchSharp-cpu", dependencies);
        }
        using (ZipArchive symbols = ZipFile.OpenRead(Path.Combine(feed, $"IJepa.{version}.snupkg")))
        {
            Assert.Contains("lib/net10.0/IJepa.pdb", symbols.Entries.Select(e => e.FullName));
        }

        string app = Directory.CreateDirectory(work.File("app")).FullName;
        File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="local-ijepa" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="IJepa" Version="{version}" />
                <PackageReference Include="TorchSharp-cpu" Version="0.107.0" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(app, "Program.cs"), """
            using System.Globalization;
            using IJepa;
            using IJepa.Preprocessing;

            using IJepaEncoder encoder = IJepaEncoder.Load(args[0], new IJepaEncoderOptions { Threads = 1 });
            ImageEmbedding embedding = encoder.Encode(ImageInput.FromFile(args[1]));
            Console.WriteLine(string.Join(" ", embedding.Pooled.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            """);

        string model = TestData.Reference("ijepa_tiny_p14");
        string image = Path.Combine(AppContext.BaseDirectory, "images", "input", "photo_flower.png");
        try
        {
            DotnetCli.Result run = DotnetCli.Run(app, TimeSpan.FromMinutes(8), "run", "-c", "Release", "--", model, image);
            Assert.True(run.ExitCode == 0, run.ToString());
            string? system = ElfVersionRequirement.FindSystemLibStdCxx();
            if (system is not null && !ElfVersionRequirement.Defines(system, "GLIBCXX_3.4.32"))
            {
                // This machine needs the fix, so the consumer's output must hold the weakened copy.
                string shipped = Path.Combine(app, "bin", "Release", "net10.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
                Assert.True(ElfVersionRequirement.Inspect(shipped, "GLIBCXX_3.4.32") is { Weak: true }, $"{shipped} is not the weakened copy");
            }
            float[] consumer = run.Output.Trim().Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();

            using IJepaEncoder encoder = IJepaEncoder.Load(model);
            float[] here = encoder.Encode(image).Pooled;
            Assert.Equal(here.Length, consumer.Length);
            Assert.True(EmbeddingMath.CosineSimilarity(here, consumer) > 0.99999f);
            Assert.True(here.Zip(consumer).Max(p => Math.Abs(p.First - p.Second)) < 1e-4f);
        }
        finally
        {
            // The per-run version would otherwise pile up in the NuGet cache.
            string cached = Path.Combine(NuGetPackagesFolder(), "ijepa", version);
            if (Directory.Exists(cached))
            {
                Directory.Delete(cached, recursive: true);
            }
        }
    }

    private static string NuGetPackagesFolder() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
