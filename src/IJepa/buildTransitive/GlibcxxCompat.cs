// Shipped as source next to IJepa.targets: MSBuild compiles it with RoslynCodeTaskFactory at build
// time, and the test project compiles the same file (with IJEPA_GLIBCXX_TESTS defined) to test it.
// It is compiled against netstandard2.0 there: keep it free of anything but that BCL and, for the task class only, Microsoft.Build.
#nullable enable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace IJepa.Build
{
    /// <summary>What <see cref="ElfVersionRequirement.Weaken"/> did.</summary>
    public enum WeakenOutcome
    {
        /// <summary>The library does not require the version at all; the copy is byte-identical.</summary>
        NotRequired,
        /// <summary>The requirement was already weak; the copy is byte-identical.</summary>
        AlreadyWeak,
        /// <summary>The requirement was marked weak in the copy.</summary>
        Weakened,
    }

    /// <summary>
    /// Marks one symbol-version requirement (a Vernaux entry in <c>.gnu.version_r</c>) of an ELF64
    /// little-endian shared library as weak (VER_FLG_WEAK), so that the dynamic loader accepts a system
    /// library that lacks the version. It refuses unless every dynamic symbol bound to that version is
    /// in an allowed list: weakening a version whose symbols are really called would only move the
    /// failure from load time to a crash at run time.
    /// </summary>
    public static class ElfVersionRequirement
    {
        private const uint ShtDynsym = 11;
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const uint ShtGnuVersym = 0x6fffffff;
        private const ushort VerFlagWeak = 0x2;

        /// <summary>Reads <paramref name="source"/>, weakens <paramref name="version"/> and writes the result to <paramref name="destination"/>.</summary>
        public static WeakenOutcome Weaken(string source, string destination, string version, ICollection<string> allowedSymbols)
        {
            byte[] image = File.ReadAllBytes(source);
            WeakenOutcome outcome = Weaken(image, version, allowedSymbols, source);
            string? directory = Path.GetDirectoryName(Path.GetFullPath(destination));
            if (directory != null) Directory.CreateDirectory(directory);
            string temporary = destination + ".tmp";
            File.WriteAllBytes(temporary, image);
            if (File.Exists(destination)) File.Delete(destination);
            File.Move(temporary, destination);
            return outcome;
        }

        /// <summary>Weakens <paramref name="version"/> in place in <paramref name="image"/>.</summary>
        public static WeakenOutcome Weaken(byte[] image, string version, ICollection<string> allowedSymbols, string name)
        {
            var elf = new Elf(image, name);
            (int FlagsOffset, ushort Index)? requirement = elf.FindRequirement(version);
            if (requirement == null) return WeakenOutcome.NotRequired;
            int flagsOffset = requirement.Value.FlagsOffset;
            ushort versionIndex = requirement.Value.Index;

            List<string> bound = elf.SymbolsBoundTo(versionIndex);
            var unexpected = new List<string>();
            foreach (string symbol in bound)
            {
                if (!allowedSymbols.Contains(symbol)) unexpected.Add(symbol);
            }
            if (unexpected.Count > 0)
            {
                throw new InvalidDataException(
                    $"{name}: refusing to weaken {version}: symbols other than the allowed ones are bound to it: {string.Join(", ", unexpected)}.");
            }

            ushort flags = elf.U16(flagsOffset);
            if ((flags & VerFlagWeak) != 0) return WeakenOutcome.AlreadyWeak;
            ushort weakened = (ushort)(flags | VerFlagWeak);
            image[flagsOffset] = (byte)weakened;
            image[flagsOffset + 1] = (byte)(weakened >> 8);
            return WeakenOutcome.Weakened;
        }

        /// <summary>Lists the dynamic symbols that <paramref name="path"/> binds to <paramref name="version"/>, and whether that requirement is weak; null when it has no such requirement.</summary>
        public static (List<string> Symbols, bool Weak)? Inspect(string path, string version)
        {
            byte[] image = File.ReadAllBytes(path);
            var elf = new Elf(image, path);
            (int FlagsOffset, ushort Index)? requirement = elf.FindRequirement(version);
            if (requirement == null) return null;
            return (elf.SymbolsBoundTo(requirement.Value.Index), (elf.U16(requirement.Value.FlagsOffset) & VerFlagWeak) != 0);
        }

        /// <summary>True when the file (a libstdc++) defines <paramref name="version"/>; a byte search of its version strings.</summary>
        public static bool Defines(string libraryPath, string version)
        {
            byte[] needle = Encoding.ASCII.GetBytes(version + "\0");
            byte[] image = File.ReadAllBytes(libraryPath);
            for (int i = 0; i + needle.Length <= image.Length; i++)
            {
                if (image[i] != needle[0]) continue;
                int k = 1;
                while (k < needle.Length && image[i + k] == needle[k]) k++;
                if (k == needle.Length) return true;
            }
            return false;
        }

        /// <summary>The system libstdc++ the dynamic loader would pick, or null when none is found in the usual places.</summary>
        public static string? FindSystemLibStdCxx()
        {
            string[] candidates =
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib/aarch64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6",
                "/usr/lib/libstdc++.so.6",
            };
            foreach (string candidate in candidates)
            {
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        private struct Section
        {
            public uint Type;
            public long Offset;
            public long Size;
            public uint Link;
            public uint Info;
            public long EntrySize;
        }

        private sealed class Elf
        {
            private readonly byte[] _image;
            private readonly string _name;
            public readonly List<Section> Sections = new List<Section>();

            public Elf(byte[] image, string name)
            {
                _image = image;
                _name = name;
                if (image.Length < 64 || image[0] != 0x7f || image[1] != (byte)'E' || image[2] != (byte)'L' || image[3] != (byte)'F')
                    throw new InvalidDataException($"{name}: not an ELF file.");
                if (image[4] != 2 || image[5] != 1)
                    throw new InvalidDataException($"{name}: only 64-bit little-endian ELF is supported.");
                long sectionTable = (long)U64(0x28);
                ushort entrySize = U16(0x3A);
                ushort count = U16(0x3C);
                if (entrySize < 64) throw new InvalidDataException($"{name}: bad section header size {entrySize}.");
                for (int i = 0; i < count; i++)
                {
                    long at = sectionTable + (long)i * entrySize;
                    var section = new Section
                    {
                        Type = U32(at + 4),
                        Offset = (long)U64(at + 24),
                        Size = (long)U64(at + 32),
                        Link = U32(at + 40),
                        Info = U32(at + 44),
                        EntrySize = (long)U64(at + 56),
                    };
                    if (section.Type != 8 /* SHT_NOBITS */ && (section.Offset < 0 || section.Offset + section.Size > image.Length))
                        throw new InvalidDataException($"{name}: section {i} lies outside the file.");
                    Sections.Add(section);
                }
            }

            public Section? FindSection(uint type)
            {
                foreach (Section section in Sections)
                {
                    if (section.Type == type) return section;
                }
                return null;
            }

            /// <summary>The flags offset and version index of the Vernaux entry named <paramref name="version"/>, if any.</summary>
            public (int FlagsOffset, ushort Index)? FindRequirement(string version)
            {
                Section? verneed = FindSection(ShtGnuVerneed);
                if (verneed == null) return null;
                Section strings = Sections[(int)verneed.Value.Link];
                long entry = verneed.Value.Offset;
                for (uint i = 0; i < verneed.Value.Info; i++)
                {
                    ushort count = U16(entry + 2);
                    long aux = entry + U32(entry + 8);
                    for (int j = 0; j < count; j++)
                    {
                        if (CString(strings.Offset + U32(aux + 8)) == version) return (checked((int)(aux + 4)), U16(aux + 6));
                        aux += U32(aux + 12);
                    }
                    uint next = U32(entry + 12);
                    if (next == 0) break;
                    entry += next;
                }
                return null;
            }

            public List<string> SymbolsBoundTo(ushort versionIndex)
            {
                var result = new List<string>();
                Section? dynsym = FindSection(ShtDynsym);
                Section? versym = FindSection(ShtGnuVersym);
                if (dynsym == null || versym == null) return result;
                Section strings = Sections[(int)dynsym.Value.Link];
                long entrySize = dynsym.Value.EntrySize == 0 ? 24 : dynsym.Value.EntrySize;
                long symbols = dynsym.Value.Size / entrySize;
                for (long i = 0; i < symbols; i++)
                {
                    ushort index = (ushort)(U16(versym.Value.Offset + 2 * i) & 0x7fff);
                    if (index == versionIndex)
                        result.Add(CString(strings.Offset + U32(dynsym.Value.Offset + i * entrySize)));
                }
                return result;
            }

            private void Check(long at, int length)
            {
                if (at < 0 || at + length > _image.Length)
                    throw new InvalidDataException($"{_name}: truncated or corrupt ELF (offset {at}).");
            }

            public ushort U16(long at) { Check(at, 2); return BitConverter.ToUInt16(_image, (int)at); }
            public uint U32(long at) { Check(at, 4); return BitConverter.ToUInt32(_image, (int)at); }
            public ulong U64(long at) { Check(at, 8); return BitConverter.ToUInt64(_image, (int)at); }

            public string CString(long at)
            {
                Check(at, 1);
                int end = Array.IndexOf(_image, (byte)0, (int)at);
                if (end < 0) throw new InvalidDataException($"{_name}: unterminated string at {at}.");
                return Encoding.ASCII.GetString(_image, (int)at, end - (int)at);
            }
        }
    }

#if !IJEPA_GLIBCXX_TESTS
    /// <summary>
    /// MSBuild task: copies libLibTorchSharp.so to <see cref="Destination"/> with its GLIBCXX_3.4.32
    /// requirement made weak, when the build machine's libstdc++ lacks that version (or when forced).
    /// </summary>
    public sealed class IJepaWeakenLibTorchSharp : Microsoft.Build.Utilities.Task
    {
        /// <summary>The libLibTorchSharp.so from the TorchSharp package.</summary>
        [Microsoft.Build.Framework.Required] public string Source { get; set; } = "";
        /// <summary>Where the patched copy goes (under obj/).</summary>
        [Microsoft.Build.Framework.Required] public string Destination { get; set; } = "";
        /// <summary>auto (patch when the system libstdc++ lacks the version), true, or false.</summary>
        public string Mode { get; set; } = "auto";
        /// <summary>True when <see cref="Destination"/> should replace the package's file.</summary>
        [Microsoft.Build.Framework.Output] public bool Patched { get; set; }

        /// <inheritdoc />
        public override bool Execute()
        {
            const string Version = "GLIBCXX_3.4.32";
            // GCC 13's <iostream> references this symbol only to pull in the version; nothing calls it.
            var allowed = new HashSet<string> { "_ZSt21ios_base_library_initv" };
            string mode = (Mode ?? "auto").Trim().ToLowerInvariant();
            if (mode == "false") return true;
            if (mode == "auto")
            {
                string? system = ElfVersionRequirement.FindSystemLibStdCxx();
                if (system == null || ElfVersionRequirement.Defines(system, Version))
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                        $"IJepa: {system ?? "no libstdc++"} defines {Version} or was not found; libLibTorchSharp.so is used as shipped.");
                    return true;
                }
            }
            try
            {
                WeakenOutcome outcome = ElfVersionRequirement.Weaken(Source, Destination, Version, allowed);
                Patched = outcome == WeakenOutcome.Weakened || outcome == WeakenOutcome.AlreadyWeak;
                Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                    $"IJepa: {Source}: {Version} requirement {outcome}; using {Destination}.");
                return true;
            }
            catch (InvalidDataException e)
            {
                Log.LogError($"IJepa: {e.Message} Set IJepaPatchLibTorchSharp=false to use the library as shipped.");
                return false;
            }
        }
    }
#endif
}
