namespace IJepa.Preprocessing;

/// <summary>
/// How 8-bit values become floats. The Python pipelines round differently in the last bit, and
/// matching Python exactly means following the one the options mimic.
/// </summary>
public enum RescaleArithmetic
{
    /// <summary>transformers' PIL/NumPy pipeline: value × rescale_factor in float64, then float32; normalization in float32.</summary>
    TransformersFloat64,

    /// <summary>torchvision's to_tensor: value / 255 in float32; normalization in float32.</summary>
    TorchvisionFloat32,

    /// <summary>
    /// transformers' torchvision backend: rescaling folded into normalization, (value − mean / rescale_factor) /
    /// (std / rescale_factor), with the folded mean and std rounded to float32 first.
    /// </summary>
    TorchvisionFused,
}
