namespace IJepa.Checkpoints;

/// <summary>One tensor's entry in a safetensors header, validated.</summary>
/// <param name="Name">The tensor's name (a state-dict key).</param>
/// <param name="DType">Element type.</param>
/// <param name="Shape">Dimensions.</param>
/// <param name="FileOffset">Absolute position of the first byte in the file.</param>
/// <param name="ByteLength">Number of bytes.</param>
internal sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long FileOffset, long ByteLength)
{
    public string ShapeText => "[" + string.Join(",", Shape) + "]";
}
