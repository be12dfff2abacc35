using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace IJepa.Checkpoints;

/// <summary>
/// Writes CPU tensors to a safetensors file (F32, F16, BF16 or F64). The file is written under a
/// temporary name and renamed only when complete, so a failed write never leaves a file that looks finished.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>Writes <paramref name="tensors"/> (in the given order) and optional string metadata to <paramref name="path"/>.</summary>
    /// <exception cref="ArgumentException">A duplicate name, or a tensor whose dtype safetensors readers here cannot take.</exception>
    /// <exception cref="IOException">The file cannot be written; nothing is left at <paramref name="path"/>.</exception>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 })
        {
            header["__metadata__"] = metadata;
        }
        long offset = 0;
        foreach ((string name, Tensor tensor) in list)
        {
            if (name == "__metadata__" || header.ContainsKey(name))
            {
                throw new ArgumentException($"Tensor name '{name}' is reserved or used twice.", nameof(tensors));
            }
            long bytes = tensor.numel() * tensor.ElementSize;
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = DTypeText(tensor.dtype, name),
                ["shape"] = tensor.shape,
                ["data_offsets"] = new[] { offset, offset + bytes },
            };
            offset += bytes;
        }
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padding = (8 - (json.Length % 8)) % 8;

        string fullPath = Path.GetFullPath(path);
        string temporary = fullPath + ".partial-" + Environment.ProcessId;
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(BitConverter.GetBytes((ulong)(json.Length + padding)));
                stream.Write(json);
                stream.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
                foreach ((_, Tensor tensor) in list)
                {
                    using Tensor cpu = tensor.device_type == DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
                    stream.Write(cpu.bytes);
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(temporary);
            throw;
        }
    }

    private static string DTypeText(ScalarType dtype, string name) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        _ => throw new ArgumentException($"Tensor '{name}' has dtype {dtype}; only float32, float16, bfloat16 and float64 are written.", nameof(name)),
    };

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
