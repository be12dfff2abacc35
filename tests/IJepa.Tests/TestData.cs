using System.Text;
using System.Text.Json;

namespace IJepa.Tests;

/// <summary>Paths of the committed reference data and small helpers to read and write test files.</summary>
internal static class TestData
{
    public static string Reference(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "reference", .. parts]);

    /// <summary>Reads one tensor of a safetensors file into a CPU tensor of its stored dtype.</summary>
    public static Tensor ReadTensor(string path, string name)
    {
        using SafetensorsFile file = SafetensorsFile.Open(path);
        SafetensorsTensorInfo info = file.Tensors[name];
        Tensor tensor = empty(info.Shape, info.DType.ToScalarType());
        file.ReadInto(info, tensor.bytes);
        return tensor;
    }

    /// <summary>A fresh temporary folder, deleted with the returned handle.</summary>
    public static TempFolder NewFolder() => new();

    /// <summary>Copies a reference model folder into a temporary one that a test may damage.</summary>
    public static TempFolder CopyModel(string name)
    {
        var folder = new TempFolder();
        foreach (string file in Directory.GetFiles(Reference(name)))
        {
            if (!Path.GetFileName(file).StartsWith("expected_", StringComparison.Ordinal))
            {
                File.Copy(file, Path.Combine(folder.Path, Path.GetFileName(file)));
            }
        }
        return folder;
    }

    /// <summary>Writes a safetensors file from explicit header entries and raw data (for malformed cases).</summary>
    public static void WriteSafetensors(string path, object header, byte[] data, ulong? headerLengthOverride = null)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        WriteRaw(path, json, data, headerLengthOverride);
    }

    public static void WriteRaw(string path, byte[] headerJson, byte[] data, ulong? headerLengthOverride = null)
    {
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes(headerLengthOverride ?? (ulong)headerJson.Length));
        stream.Write(headerJson);
        stream.Write(data);
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);
}

internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "ijepa-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
