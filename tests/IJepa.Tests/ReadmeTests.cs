using System.Text;
using System.Text.RegularExpressions;

namespace IJepa.Tests;

/// <summary>README is a contract: every C# snippet in it compiles against the library as built.</summary>
public partial class ReadmeTests
{
    private static string Readme => File.ReadAllText(Path.Combine(DotnetCli.RepositoryRoot, "README.md"));

    [GeneratedRegex(@"^```csharp\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    [GeneratedRegex(@"^using (static )?[\w.]+;$|^using \w+ = [\w.<>, ]+;$")]
    private static partial Regex UsingDirective();

    [Fact]
    public void Every_csharp_snippet_compiles_against_the_library()
    {
        string[] snippets = CSharpBlock().Matches(Readme.ReplaceLineEndings("\n")).Select(m => m.Groups[1].Value).ToArray();
        Assert.True(snippets.Length >= 4, $"found {snippets.Length} C# snippets in README; the extraction is broken");

        using TempFolder work = TestData.NewFolder();
        string library = Path.Combine(DotnetCli.RepositoryRoot, "src", "IJepa", "bin", DotnetCli.Configuration, "net10.0", "IJepa.dll");
        Assert.True(File.Exists(library), library);
        string training = Path.Combine(DotnetCli.RepositoryRoot, "src", "IJepa.Training", "bin", DotnetCli.Configuration, "net10.0", "IJepa.Training.dll");
        Assert.True(File.Exists(training), training);
        // A plain console app's settings (implicit usings, nullable), as a reader pasting a snippet would have,
        // and the library's public dependencies at the versions it was built with.
        File.WriteAllText(work.File("Snippets.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <NoWarn>CS0219;CS0168;IDE0005</NoWarn>
              </PropertyGroup>
              <ItemGroup>
                <Reference Include="IJepa" HintPath="{library}" />
                <Reference Include="IJepa.Training" HintPath="{training}" />
                <PackageReference Include="TorchSharp" Version="0.107.0" />
                <PackageReference Include="SixLabors.ImageSharp" Version="2.1.13" />
                <PackageReference Include="Microsoft.Extensions.AI.Abstractions" Version="10.11.0" />
              </ItemGroup>
            </Project>
            """);
        for (int i = 0; i < snippets.Length; i++)
        {
            // Each snippet is a program of its own: its using directives at the top of a file, its statements in a method.
            string[] lines = snippets[i].Split('\n');
            var file = new StringBuilder();
            foreach (string line in lines.Where(l => UsingDirective().IsMatch(l.Trim())))
            {
                file.AppendLine(line.Trim());
            }
            file.AppendLine("namespace ReadmeSnippets;").AppendLine($"internal static class Snippet{i + 1}").AppendLine("{")
                .AppendLine("    public static async Task Run()").AppendLine("    {");
            foreach (string line in lines.Where(l => !UsingDirective().IsMatch(l.Trim())))
            {
                file.AppendLine("        " + line);
            }
            file.AppendLine("        await Task.CompletedTask;").AppendLine("    }").AppendLine("}");
            File.WriteAllText(work.File($"Snippet{i + 1}.cs"), file.ToString());
        }
        DotnetCli.Result build = DotnetCli.Run(work.Path, TimeSpan.FromMinutes(5), "build", "-c", "Release", "-nologo", "-v", "q");
        Assert.True(build.ExitCode == 0, "README snippets do not compile (SnippetN.cs is the N-th ```csharp block):\n" + build);
    }
}
