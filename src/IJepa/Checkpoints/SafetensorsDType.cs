using TorchSharp;

namespace IJepa.Checkpoints;

/// <summary>The element types this library reads from safetensors files.</summary>
internal enum SafetensorsDType
{
    F16,
    BF16,
    F32,
    F64,
}

internal static class SafetensorsDTypeExtensions
{
    public static bool TryParse(string text, out SafetensorsDType dtype)
    {
        switch (text)
        {
            case "F16": dtype = SafetensorsDType.F16; return true;
            case "BF16": dtype = SafetensorsDType.BF16; return true;
            case "F32": dtype = SafetensorsDType.F32; return true;
            case "F64": dtype = SafetensorsDType.F64; return true;
            default: dtype = default; return false;
        }
    }

    public static int ElementSize(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.F32 => 4,
        SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static torch.ScalarType ToScalarType(this SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static string ToText(this SafetensorsDType dtype) => dtype.ToString();
}
